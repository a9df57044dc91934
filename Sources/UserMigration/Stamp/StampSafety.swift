public import Cognito

/// Whether `stableid stamp` may write a stable ID into an attribute of a pool: a pure decision over
/// what DescribeUserPool and DescribeUserPoolClient said, tested without Cognito.
///
/// The attribute must be a mutable custom `String` attribute of the pool's schema with room for a
/// UUID, and no app client may write it. A stamped attribute is worth something only because
/// nobody but an administrator could have put it there: a client with `WriteAttributes` unset
/// (Cognito's default: every attribute) or naming it would let any user — through sign-up or
/// UpdateUserAttributes with their own access token — claim another person's stable ID, which ID
/// tokens would then carry as if StableID had said so.
public struct StampSafety: Sendable, Equatable {
    /// One attribute of the pool's schema.
    public struct SchemaEntry: Sendable, Equatable {
        public var name: String
        public var dataType: String?
        public var mutable: Bool?
        public var minLength: Int?
        public var maxLength: Int?

        public init(name: String, dataType: String?, mutable: Bool?, minLength: Int? = nil, maxLength: Int? = nil) {
            self.name = name
            self.dataType = dataType
            self.mutable = mutable
            self.minLength = minLength
            self.maxLength = maxLength
        }

        public init?(_ attribute: UserPoolDescription.SchemaAttribute) {
            guard let name = attribute.Name else { return nil }
            self.init(
                name: name, dataType: attribute.AttributeDataType, mutable: attribute.Mutable,
                minLength: attribute.StringAttributeConstraints?.MinLength, maxLength: attribute.StringAttributeConstraints?.MaxLength)
        }
    }

    /// One app client of the pool.
    public struct AppClient: Sendable, Equatable {
        public var id: String
        public var name: String?
        /// Nil: unset, which lets the client write every attribute.
        public var writeAttributes: [String]?

        public init(id: String, name: String?, writeAttributes: [String]?) {
            self.id = id
            self.name = name
            self.writeAttributes = writeAttributes
        }

        public init(_ description: UserPoolClientDescription) {
            self.init(id: description.ClientId, name: description.ClientName, writeAttributes: description.WriteAttributes)
        }

        /// Cognito's rule (unset: every attribute), read in one place.
        public func canWrite(_ attribute: String) -> Bool {
            UserPoolClientDescription.canWrite(attribute, writeAttributes: writeAttributes)
        }

        /// `id (name)`, as a refusal names it.
        var label: String { name.map { "\(id) (\($0))" } ?? id }
    }

    /// A stable ID as written: a lower-case UUID.
    public static let valueLength = 36

    public var attribute: String
    public var pool: String
    public var schema: [SchemaEntry]
    public var clients: [AppClient]

    public init(attribute: String, pool: String, schema: [SchemaEntry], clients: [AppClient]) {
        self.attribute = attribute
        self.pool = pool
        self.schema = schema
        self.clients = clients
    }

    /// Whether the attribute names a custom attribute at all (checked before Cognito is asked).
    public static func isCustom(_ attribute: String) -> Bool {
        attribute.hasPrefix("custom:") && attribute.count > "custom:".count
    }

    /// The first reason to refuse, in the order an operator would fix them; nil when the pool is safe to stamp.
    public var refusal: StampError? {
        guard Self.isCustom(attribute) else { return .notCustomAttribute(attribute) }
        guard let entry = schema.first(where: { $0.name == attribute }) else { return .notInSchema(attribute: attribute, pool: pool) }
        guard entry.dataType == "String" else { return .notString(attribute: attribute, type: entry.dataType) }
        guard entry.mutable != false else { return .immutable(attribute: attribute) }
        if let max = entry.maxLength, max < Self.valueLength {
            return .tooShort(attribute: attribute, minLength: entry.minLength, maxLength: max)
        }
        if let min = entry.minLength, min > Self.valueLength {
            return .tooShort(attribute: attribute, minLength: min, maxLength: entry.maxLength)
        }
        let writers = clients.filter { $0.canWrite(attribute) }.sorted { $0.id < $1.id }
        guard writers.isEmpty else { return .writableByClients(attribute: attribute, pool: pool, clients: writers.map(\.label)) }
        return nil
    }
}
