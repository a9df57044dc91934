extension CognitoConfiguration {
    /// Where `poolID` publishes its signing keys: `<endpoint>/<pool id>/.well-known/jwks.json` on
    /// the endpoint the API calls go to — `https://cognito-idp.<region>.amazonaws.com/…`, which is
    /// also the pool's issuer plus `/.well-known/jwks.json`, or the endpoint override
    /// (`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`, `AWS_ENDPOINT_URL`). moto serves keys there
    /// while its tokens' `iss` names the AWS host: the issuer is checked against the registered
    /// pool, the keys come from here.
    public func jwksURL(poolID: String) -> String {
        var base = endpoint
        while base.hasSuffix("/") { base.removeLast() }
        return "\(base)/\(poolID)/.well-known/jwks.json"
    }
}
