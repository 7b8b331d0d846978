public import NIOCore
import Synchronization

/// Writes a request body in pieces while the request is in flight. ``write(_:)`` waits until the previous piece
/// has been taken by the connection, so at most one piece is buffered here whatever the producer's speed.
public struct ClickHouseBodyWriter: Sendable {
    let pipe: BodyPipe

    /// Sends the next piece of the body; waits while the connection is busy with the previous one.
    /// - Throws: ``ClickHouseBodyWriterClosed`` when the request has already ended (for example the server answered
    ///   with an error or the connection broke); stop producing then.
    public func write(_ buffer: ByteBuffer) async throws {
        try await pipe.write(buffer)
    }

    /// Sends bytes as the next piece of the body.
    public func write(_ bytes: [UInt8]) async throws {
        try await pipe.write(ByteBuffer(bytes: bytes))
    }
}

/// The request the writer was feeding has ended.
public struct ClickHouseBodyWriterClosed: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String { "the ClickHouse request ended before the body was complete" }
}

/// A one-slot hand-off between a body producer and the HTTP client's body reader.
final class BodyPipe: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    private struct State {
        var pending: ByteBuffer?
        var producer: CheckedContinuation<Void, any Error>?
        var consumer: CheckedContinuation<ByteBuffer?, any Error>?
        var finished = false
        var failure: (any Error)?
        var closed = false
    }

    private let state = Mutex(State())

    func write(_ buffer: ByteBuffer) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            enum Action { case deliver(CheckedContinuation<ByteBuffer?, any Error>), fail, wait }
            let action: Action = state.withLock { state in
                if state.closed || state.finished { return .fail }
                if let consumer = state.consumer {
                    state.consumer = nil
                    return .deliver(consumer)
                }
                state.pending = buffer
                state.producer = continuation
                return .wait
            }
            switch action {
            case .deliver(let consumer):
                consumer.resume(returning: buffer)
                continuation.resume()
            case .fail:
                continuation.resume(throwing: ClickHouseBodyWriterClosed())
            case .wait:
                break
            }
        }
    }

    /// The producer is done; `error` aborts the request.
    func finish(error: (any Error)? = nil) {
        let consumer: CheckedContinuation<ByteBuffer?, any Error>? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            state.failure = error
            defer { state.consumer = nil }
            return state.consumer
        }
        if let error { consumer?.resume(throwing: error) } else { consumer?.resume(returning: nil) }
    }

    /// The request ended; a waiting or later write fails.
    func close() {
        let producer: CheckedContinuation<Void, any Error>? = state.withLock { state in
            state.closed = true
            state.pending = nil
            defer { state.producer = nil }
            return state.producer
        }
        producer?.resume(throwing: ClickHouseBodyWriterClosed())
    }

    fileprivate func next() async throws -> ByteBuffer? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer?, any Error>) in
                enum Action { case value(ByteBuffer, CheckedContinuation<Void, any Error>?), end, fail(any Error), wait }
                let action: Action = state.withLock { state in
                    if let pending = state.pending {
                        state.pending = nil
                        defer { state.producer = nil }
                        return .value(pending, state.producer)
                    }
                    if state.closed { return .fail(CancellationError()) }
                    if state.finished { return state.failure.map { .fail($0) } ?? .end }
                    state.consumer = continuation
                    return .wait
                }
                switch action {
                case .value(let buffer, let producer):
                    producer?.resume()
                    continuation.resume(returning: buffer)
                case .end:
                    continuation.resume(returning: nil)
                case .fail(let error):
                    continuation.resume(throwing: error)
                case .wait:
                    break
                }
            }
        } onCancel: {
            let consumer: CheckedContinuation<ByteBuffer?, any Error>? = state.withLock { state in
                state.closed = true
                defer { state.consumer = nil }
                return state.consumer
            }
            consumer?.resume(throwing: CancellationError())
            close()
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let pipe: BodyPipe
        mutating func next() async throws -> ByteBuffer? { try await pipe.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pipe: self) }
}
