public import ServiceLifecycle
import Synchronization

/// Turns intake away while Sluice shuts down.
///
/// As a service it waits for the graceful-shutdown signal, closes the gate (new intake requests get 503
/// with `Retry-After`), then keeps the listener up for `drainSeconds` so load balancers and EventBridge see
/// the 503s and move on, and only then returns, letting the HTTP server stop.
public final class DrainGate: Service, Sendable {
    private let closed = Mutex(false)
    let drainSeconds: Double

    public init(drainSeconds: Double) {
        self.drainSeconds = drainSeconds
    }

    /// Whether intake is closed.
    public var isDraining: Bool { closed.withLock { $0 } }

    /// Closes the gate without waiting (used by tests and by shutdown).
    public func close() {
        closed.withLock { $0 = true }
    }

    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            close()
            return
        }
        close()
        if drainSeconds > 0 {
            try? await Task.sleep(for: .milliseconds(Int(drainSeconds * 1000)))
        }
    }
}
