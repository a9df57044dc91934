import CCurl
import Foundation
import Support

/// Owns one libcurl easy handle (`CURL*`).
///
/// An easy handle keeps its connection cache between transfers, so reusing one handle reuses the
/// TCP/TLS connection (no handshake per request). `@unchecked Sendable`: ``CurlClient`` uses each
/// handle from its own ``BlockingExecutor`` only.
final class CurlHandle: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer

    private static let globalInit: Void = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()

    init() {
        _ = Self.globalInit
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        self.handle = handle
    }

    deinit {
        curl_easy_cleanup(handle)
    }

    /// Performs one transfer, blocking the calling thread.
    func perform(_ request: CurlRequest) throws(CurlError) -> CurlResponse {
        curl_easy_reset(handle)
        let sink = ResponseSink(connectFilter: request.connectFilter, bodyLimit: request.responseBodyLimit)
        let context = Unmanaged.passUnretained(sink).toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }

        let milliseconds = Int(request.timeout.milliseconds)
        var status = CURLE_OK
        func set(_ option: CURLoption, _ value: Int) {
            if status == CURLE_OK { status = stableid_curl_setopt_long(handle, option, value) }
        }
        func set(_ option: CURLoption, _ value: String) {
            if status == CURLE_OK { status = stableid_curl_setopt_string(handle, option, value) }
        }
        set(CURLOPT_URL, request.url)
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_TIMEOUT_MS, max(1, milliseconds))
        set(CURLOPT_CONNECTTIMEOUT_MS, max(1, min(milliseconds, 5_000)))
        // TLS verification stays on, whatever the caller wants.
        set(CURLOPT_SSL_VERIFYPEER, 1)
        set(CURLOPT_SSL_VERIFYHOST, 2)
        set(CURLOPT_PROTOCOLS_STR, "http,https")
        set(CURLOPT_FOLLOWLOCATION, 0)
        set(CURLOPT_TCP_KEEPALIVE, 1)
        set(CURLOPT_ACCEPT_ENCODING, "")
        switch request.method {
        case "GET":
            set(CURLOPT_HTTPGET, 1)
        case "POST":
            set(CURLOPT_POST, 1)
        default:
            set(CURLOPT_CUSTOMREQUEST, request.method)
        }
        if !request.body.isEmpty || request.method == "POST" || request.method == "PUT" {
            set(CURLOPT_POSTFIELDSIZE_LARGE, request.body.count)
            if status == CURLE_OK {
                status = request.body.withUnsafeBufferPointer { buffer in
                    // COPYPOSTFIELDS copies, so the buffer need not outlive this call.
                    stableid_curl_setopt_pointer(
                        handle, CURLOPT_COPYPOSTFIELDS,
                        UnsafeMutableRawPointer(mutating: buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!))
                }
            }
        }
        // "Expect: 100-continue" costs a round trip on every POST; AWS does not need it.
        for header in request.headers + [("Expect", "")] {
            headerList = curl_slist_append(headerList, "\(header.0): \(header.1)")
        }
        if status == CURLE_OK { status = stableid_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList) }
        if status == CURLE_OK { status = stableid_curl_setopt_write_callback(handle, curlWriteBody) }
        if status == CURLE_OK { status = stableid_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context) }
        if status == CURLE_OK { status = stableid_curl_setopt_header_callback(handle, curlWriteHeader) }
        if status == CURLE_OK { status = stableid_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context) }
        if status == CURLE_OK, request.connectFilter != nil { status = installConnectFilter(context: context) }
        guard status == CURLE_OK else { throw Self.error(status) }

        let result = withExtendedLifetime(sink) { curl_easy_perform(handle) }
        if let limit = sink.overLimit {
            // The write callback stopped the transfer (libcurl answers CURLE_WRITE_ERROR): what
            // arrived is dropped with the sink, and the connection closed by libcurl.
            throw CurlError(
                kind: .responseTooLarge(limit: limit), code: Int32(result.rawValue),
                message: "the response body passed \(limit) bytes; the transfer was stopped")
        }
        if result != CURLE_OK, !sink.refused.isEmpty {
            throw CurlError(
                kind: .addressRefused, code: Int32(result.rawValue),
                message: "no allowed address to connect to (refused: \(sink.refused.joined(separator: ", ")))")
        }
        guard result == CURLE_OK else { throw Self.error(result) }
        var code: Int = 0
        _ = stableid_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return CurlResponse(status: code, headers: sink.headers, body: sink.body)
    }

    /// Every new connection asks ``ResponseSink/connectFilter`` first (`CURLOPT_OPENSOCKETFUNCTION`);
    /// no proxy, so the address asked is the server's own (an empty `CURLOPT_PROXY` also overrides
    /// the `*_proxy` environment variables).
    private func installConnectFilter(context: UnsafeMutableRawPointer) -> CURLcode {
        var status = stableid_curl_setopt_string(handle, CURLOPT_PROXY, "")
        if status == CURLE_OK { status = stableid_curl_setopt_opensocket_callback(handle, curlOpenSocket) }
        if status == CURLE_OK { status = stableid_curl_setopt_pointer(handle, CURLOPT_OPENSOCKETDATA, context) }
        return status
    }

    private static func error(_ code: CURLcode) -> CurlError {
        let kind: CurlError.Kind
        switch code {
        case CURLE_OPERATION_TIMEDOUT: kind = .timeout
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
            CURLE_GOT_NOTHING:
            kind = .connect
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE:
            kind = .tls
        default: kind = .other
        }
        return CurlError(kind: kind, code: Int32(code.rawValue), message: String(cString: curl_easy_strerror(code)))
    }
}

/// Appends a piece of the body as the request's ``CurlRequest/ResponseBodyLimit`` allows. A count
/// other than `length` makes libcurl stop the transfer with `CURLE_WRITE_ERROR`: that is how a
/// body past `.fail(above:)` is cut off before the next piece is read.
private func curlWriteBody(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    let length = size * count
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    var kept = length
    switch sink.bodyLimit {
    case nil:
        break
    case .truncate(let limit):
        kept = min(length, max(0, limit - sink.body.count))
    case .fail(let limit):
        guard sink.body.count + length <= limit else {
            sink.overLimit = limit
            return 0
        }
    }
    sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: kept))
    return length
}

/// Asked by libcurl before each new connection: opens the socket only for an address the
/// request's filter accepts; otherwise records it and answers `CURL_SOCKET_BAD`, which libcurl
/// treats as that address failing (it tries the host's other addresses, then gives up).
private func curlOpenSocket(
    _ context: UnsafeMutableRawPointer?, _ purpose: curlsocktype, _ address: UnsafeMutablePointer<curl_sockaddr>?
) -> curl_socket_t {
    guard let context, let address else { return -1 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    var raw = [UInt8](repeating: 0, count: 16)
    let count = Int(raw.withUnsafeMutableBufferPointer { stableid_curl_sockaddr_bytes(address, $0.baseAddress) })
    let bytes = Array(raw.prefix(count))
    guard count > 0, let filter = sink.connectFilter, filter(bytes) else {
        sink.refused.append(count > 0 ? ResponseSink.text(of: bytes) : "an address of another family")
        return -1
    }
    return stableid_curl_open_socket(address)
}

private func curlWriteHeader(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    let length = size * count
    guard let data, let context else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        sink.headers.removeAll()  // a new response (e.g. after 100 Continue)
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        sink.headers.append((name, value))
    }
    return length
}

/// Collects one response as libcurl delivers it; reached from the C callbacks through
/// `CURLOPT_WRITEDATA`/`CURLOPT_HEADERDATA`, since C function pointers cannot capture.
private final class ResponseSink {
    var body: [UInt8] = []
    var headers: [(String, String)] = []
    let connectFilter: (@Sendable ([UInt8]) -> Bool)?
    let bodyLimit: CurlRequest.ResponseBodyLimit?
    /// The addresses the filter refused, as text (for the error).
    var refused: [String] = []
    /// The `.fail(above:)` bound, once the body passed it and the transfer was stopped.
    var overLimit: Int?

    init(connectFilter: (@Sendable ([UInt8]) -> Bool)?, bodyLimit: CurlRequest.ResponseBodyLimit?) {
        self.connectFilter = connectFilter
        self.bodyLimit = bodyLimit
    }

    /// `10.0.0.1`, or eight groups of hex for IPv6 (uncompressed: only for messages).
    static func text(of address: [UInt8]) -> String {
        if address.count == 4 { return address.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: address.count, by: 2).map { String(UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }
}
