// libFuzzer entry point over the reading of ClickHouse error answers (`ClickHouseError.fromResponse`, and the
// exception text parser behind it), as the HTTP client meets them: any status, an optional
// X-ClickHouse-Exception-Code header, and a body that may hold data followed by an exception.
// Built by `scripts/fuzz clickhouse-errors` into one module with ClickHouseError.swift.
//
// The first two input bytes choose the status and the header; the rest is the body.

@_cdecl("LLVMFuzzerTestOneInput")
public func clickHouseErrorsFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard bytes.count >= 2 else { return 0 }
    let statuses = [200, 400, 401, 403, 404, 500, 502, 503, 504, 0]
    let status = statuses[Int(bytes[0]) % statuses.count]
    let header: String? = bytes[1] & 1 == 0 ? nil : String(Int(bytes[1] >> 1) * 7)
    let body = bytes.dropFirst(2)
    let error = ClickHouseError.fromResponse(status: status, exceptionCodeHeader: header, body: body, queryID: "q")
    _ = error.description
    _ = error.category.description
    if let parsed = ServerExceptionText(body) {
        guard parsed.code >= 0, !parsed.message.contains("\n") else {
            fatalError("exception text parsed into code \(parsed.code), message \(parsed.message.debugDescription)")
        }
        _ = ClickHouseError.category(serverCode: parsed.code, httpStatus: status)
    }
    return 0
}
