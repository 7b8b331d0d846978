public import Logging
import Foundation
import Synchronization

/// A log handler that writes one JSON object per line: `ts`, `level`, `logger`, `msg`, then the metadata
/// keys (`correlation_id`, `domain`, `table`, …). Messages are constant strings; data goes in metadata.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: Sink

    /// Where lines go: standard error by default.
    public final class Sink: Sendable {
        private let lock = Mutex(())
        private let write: @Sendable (String) -> Void

        public init(write: @escaping @Sendable (String) -> Void) {
            self.write = write
        }

        public static let standardError = Sink { line in
            FileHandle.standardError.write(Data(line.utf8))
        }

        func emit(_ line: String) {
            lock.withLock { _ in write(line) }
        }
    }

    public init(label: String, level: Logger.Level = .info, sink: Sink = .standardError) {
        self.label = label
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var line = "{\"ts\":\""
        line += Date().formatted(Self.timestampStyle)
        line += "\",\"level\":\"\(event.level.rawValue)\",\"logger\":"
        Self.appendQuoted(label, to: &line)
        line += ",\"msg\":"
        Self.appendQuoted(event.message.description, to: &line)
        for key in merged.keys.sorted() {
            line += ","
            Self.appendQuoted(key, to: &line)
            line += ":"
            Self.appendQuoted(merged[key]!.description, to: &line)
        }
        line += "}\n"
        sink.emit(line)
    }

    static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func appendQuoted(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
