// libFuzzer entry point over intake's request decoding: the strict JSON parser (EventPattern), then the
// decoding of `/v1/events` and `/v1/messages` bodies (SluiceIntake's EventDecoder) and the key of every
// object-created fact found. Built by `scripts/fuzz events` into one module with the decoder's sources, against
// the EventPattern and SluiceCore modules.
//
// Besides crashes, it checks two properties: a parsed value serializes to JSON that parses back to the same
// value, and every decoding error names the field at fault.

import EventPattern
import SluiceCore

@_cdecl("LLVMFuzzerTestOneInput")
public func eventsFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let json: JSONValue
    do {
        json = try JSONValue.parse(bytes, maxDepth: 32)
    } catch {
        _ = "\(error)"
        return 0
    }
    let serialized = json.serializedBytes()
    guard let again = try? JSONValue.parse(serialized, maxDepth: 64), again == json else {
        fatalError("JSON round trip changed the value: \(String(decoding: serialized.prefix(200), as: UTF8.self))")
    }
    do {
        let events = try EventDecoder.decodeEvents(json)
        for event in events { exercise(event) }
    } catch {
        check(error)
    }
    do {
        let messages = try EventDecoder.decodeMessages(json)
        for message in messages { exercise(message) }
    } catch {
        check(error)
    }
    return 0
}

private func exercise(_ event: DecodedEvent) {
    switch event {
    case .object(let created, _):
        _ = created.payload.utf8.count
        if let parsed = try? ParsedKey.parse(created.key) {
            _ = parsed.partitionPath
        }
    case .other(let value, let payload, let reason):
        _ = value.serializedBytes().count + payload.utf8.count + reason.utf8.count
    case .invalid(let error, _):
        check(error)
    }
}

private func check(_ error: SluiceError) {
    guard let field = error.field, !field.isEmpty else {
        fatalError("a decoding error names no field: \(error)")
    }
    _ = error.description
}
