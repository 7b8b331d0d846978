// libFuzzer entry point over object keys as they arrive in events: S3's form-encoded notification keys
// (FormDecoding), Hive partition escaping, and the `<domain>/<table>/<k=v>/…/<file>` layout (ParsedKey).
// Built by `scripts/fuzz keys` into one module with the key sources, against the SluiceCore module.
//
// Properties checked besides crashes: Hive escaping round-trips, a parsed key's parts come from the key,
// and a key that parses once parses again from its own re-escaped partition path.

import SluiceCore

@_cdecl("LLVMFuzzerTestOneInput")
public func keysFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let decoded = FormDecoding.decode(text)
    for key in [text, decoded].compactMap({ $0 }) {
        if HiveEscaping.unescape(HiveEscaping.escape(key)) != key {
            fatalError("Hive escaping does not round-trip \(key.debugDescription)")
        }
        do {
            let parsed = try ParsedKey.parse(key)
            guard key.hasPrefix(parsed.domain + "/"), Identifier.isValid(parsed.table),
                parsed.partitions.allSatisfy({ Identifier.isValid($0.name) })
            else {
                fatalError("ParsedKey.parse accepted inconsistent parts from \(key.debugDescription): \(parsed)")
            }
            var rebuilt = parsed.domain + "/" + parsed.table + "/"
            if !parsed.partitions.isEmpty { rebuilt += parsed.partitionPath + "/" }
            rebuilt += parsed.fileName
            // Escaping can make the rebuilt key longer than S3's 1024-byte limit (a control character becomes
            // `%07`); such a key could not exist, so there is nothing to compare.
            guard rebuilt.utf8.count <= 1024 else { continue }
            let again: ParsedKey
            do {
                again = try ParsedKey.parse(rebuilt)
            } catch {
                fatalError("the key rebuilt from \(key.debugDescription) does not parse: \(rebuilt.debugDescription): \(error)")
            }
            if again != parsed {
                fatalError("the key rebuilt from \(key.debugDescription) parses differently: \(parsed) vs \(again)")
            }
        } catch {
            guard error.field == "key" else { fatalError("a key error names field \(error.field ?? "nil")") }
            _ = error.description
        }
    }
    return 0
}
