// libFuzzer entry point over S3's XML error answers: the bounded XML reader (XMLReader) and the steps that
// turn an `<Error>` document into an AWSError (code, message, request id, category, description), as the S3
// client does with an error body. Built by `scripts/fuzz s3-errors` into one module with XML.swift and
// AWSError.swift (the transport that calls them needs the HTTP client, so its few lines are repeated here).
//
// The first input byte chooses the HTTP status; the rest is the body.

@_cdecl("LLVMFuzzerTestOneInput")
public func s3ErrorsFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let statuses = [400, 403, 404, 409, 412, 416, 500, 501, 503, 301]
    let status = statuses[Int(first) % statuses.count]
    let body = Array(bytes.dropFirst())
    guard let root = try? XMLReader.parse(body) else { return 0 }
    guard depth(root) <= XMLReader.maxDepth + 1 else { fatalError("XMLReader returned a tree deeper than its cap") }
    let element = root.name == "Error" ? root : root.child("Error")
    guard let element, let code = element.string("Code"), !code.isEmpty else { return 0 }
    let error = AWSError(
        code: code,
        httpStatus: status,
        category: AWSError.category(code: code, status: status),
        requestID: element.string("RequestId") ?? root.string("RequestId"),
        message: element.string("Message") ?? "",
        service: "s3",
        operation: "GetObject",
        resource: "s3://bucket/key"
    )
    guard error.message.utf8.count <= 4 * 1024 else { fatalError("AWSError kept a message of \(error.message.utf8.count) bytes") }
    _ = error.description
    _ = error.debugDescription
    _ = error.isRetryable
    _ = error.isNotFound
    _ = error.isAccessDenied
    return 0
}

private func depth(_ element: XMLElement) -> Int {
    1 + (element.children.map(depth).max() ?? 0)
}
