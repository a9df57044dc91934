public import CognitoIngest
public import Foundation
public import IdentityMap
public import Logging

/// Rereads the target-pool facts of every campaign that is not done, so that what the triggers
/// trust follows the pool within `serve`'s interval — an app client added with `WriteAttributes`
/// unset makes the stable-ID attribute writable at once in Cognito — and not only at the next
/// live `stableid reconcile`. A change is recorded as `campaign_target_facts_changed`.
///
/// A read that fails keeps the facts last read: the service's own AWS access may lack
/// `DescribeUserPool` where the operator's reconciliation has it, and facts that flipped to
/// "unknown" and back at every read would be noise in the audit trail, not news.
public struct TargetFactsRefresh: Sendable {
    let database: Database
    let clients: PoolClients
    let logger: Logger

    public init(database: Database, clients: PoolClients, logger: Logger) {
        self.database = database
        self.clients = clients
        self.logger = logger
    }

    /// One pass over the campaigns; returns how many had facts that changed.
    @discardableResult
    public func run(attribution: Attribution) async throws -> Int {
        let store = CampaignStore(database: database)
        var changed = 0
        for campaign in try await store.list() where campaign.phase != .done {
            guard let target = try await PoolStore(database: database).pool(campaign.target) else { continue }
            let facts: TargetPoolFacts
            do {
                facts = await TargetPoolFacts.read(
                    pool: target.id, stableIDAttribute: campaign.stableIDAttribute, client: try clients.client(for: target),
                    deadline: .now + .seconds(20))
            } catch {
                facts = TargetPoolFacts(problem: "no AWS access configured for the pool")
            }
            if let problem = facts.problem {
                logger.warning(
                    "target pool facts not read; keeping the last ones",
                    metadata: ["campaign": "\(campaign.name)", "problem": "\(problem)"])
                continue
            }
            if try await store.recordTargetFacts(facts, campaign: campaign.id, attribution: attribution).run(on: database) {
                changed += 1
                logger.warning(
                    "target pool facts changed",
                    metadata: [
                        "campaign": "\(campaign.name)", "self_sign_up": "\(facts.selfSignUp.map { "\($0)" } ?? "unknown")",
                        "attribute_writers": "\(facts.attributeWriters?.joined(separator: " ") ?? "unknown")",
                    ])
            }
        }
        return changed
    }
}
