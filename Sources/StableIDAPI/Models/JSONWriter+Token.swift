import Cognito
import LookupCache

extension JSONWriter {
    /// The token lookup's answer: the resolution `GET /v1/resolve` answers, with the verified
    /// claims under `token` — `{"identity":{…},"status":…,"token":{…},"user_id":…}`, keys sorted
    /// as everywhere. The resolution is the one spelling (``AnswerSink/answerOpening(_:)``), so
    /// both answers stay alike. Without `token`, exactly ``AnswerSink/answer(_:)``.
    mutating func answer(_ answer: StoredAnswer, token: VerifiedToken?) {
        guard let token else {
            self.answer(answer)
            return
        }
        answerOpening(answer)
        raw(",\"token\":")
        claims(token)
        answerClosing(answer)
    }

    /// `{"auth_time"?,"client_id","exp","iat","iss","pool","sub","token_use","username"?}`: the
    /// claims that were checked, and the sign-in's time and username — never an email or another
    /// attribute. Times are NumericDate seconds, as in the token.
    mutating func claims(_ token: VerifiedToken) {
        raw("{")
        if let authTime = token.authTime {
            raw("\"auth_time\":")
            integer(authTime)
            raw(",")
        }
        raw("\"client_id\":")
        string(token.clientID)
        raw(",\"exp\":")
        integer(token.expiresAt)
        raw(",\"iat\":")
        integer(token.issuedAt)
        raw(",\"iss\":")
        string(token.issuer)
        raw(",\"pool\":")
        string(token.poolID)
        raw(",\"sub\":")
        string(token.subject)
        raw(",\"token_use\":")
        plainString(token.use.rawValue)
        if let username = token.username {
            raw(",\"username\":")
            string(username)
        }
        raw("}")
    }

    mutating func integer(_ value: Int64) {
        bytes.append(contentsOf: String(value).utf8)
    }
}
