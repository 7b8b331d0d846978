import Foundation

/// The real wall clock, in milliseconds since 1970. Components take a clock closure defaulting to this, so
/// tests can inject their own.
public enum WallClock {
    public static func milliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}
