public import Foundation

/// What HeadObject (or a GetObject response) says about an object.
public struct S3ObjectInfo: Sendable, Hashable {
    /// The bucket.
    public var bucket: String
    /// The object key.
    public var key: String
    /// The object's size in bytes (the whole object, even for a ranged read).
    public var size: Int64
    /// The entity tag exactly as S3 sent it, quotes included (`"9b2cf535…"`).
    public var eTag: String
    /// The version id in a versioned bucket (`null` objects and unversioned buckets: nil).
    public var versionID: String?
    /// `Last-Modified`.
    public var lastModified: Date?
    /// `Content-Type`.
    public var contentType: String?

    /// Creates object information.
    public init(bucket: String, key: String, size: Int64, eTag: String, versionID: String?, lastModified: Date?, contentType: String?) {
        self.bucket = bucket
        self.key = key
        self.size = size
        self.eTag = eTag
        self.versionID = versionID
        self.lastModified = lastModified
        self.contentType = contentType
    }

    /// A pin to exactly this object: its version id when there is one, and its ETag.
    public var pin: S3ObjectPin { S3ObjectPin(versionID: self.versionID, eTag: self.eTag) }
}

/// Pins reads to one state of an object, so that an object replaced during a load is detected
/// (S3 answers `PreconditionFailed` or reads the old version) instead of being half-read.
public struct S3ObjectPin: Sendable, Hashable {
    /// Read this version (`versionId` query parameter).
    public var versionID: String?
    /// Read only if the current ETag is this one (`If-Match`). Quotes are added if missing.
    public var eTag: String?

    /// Creates a pin; both parts are optional.
    public init(versionID: String? = nil, eTag: String? = nil) {
        self.versionID = versionID
        self.eTag = eTag
    }

    /// No pin: whatever is current.
    public static let none = S3ObjectPin()

    var ifMatchValue: String? {
        guard let eTag, !eTag.isEmpty else { return nil }
        if eTag.hasPrefix("\"") || eTag.hasPrefix("W/") { return eTag }
        return "\"\(eTag)\""
    }
}

/// One object in a ListObjectsV2 page.
public struct S3ListedObject: Sendable, Hashable {
    /// The key.
    public var key: String
    /// Size in bytes.
    public var size: Int64
    /// ETag as listed, quotes included.
    public var eTag: String?
    /// Last modification time.
    public var lastModified: Date?
    /// Storage class (`STANDARD`, …).
    public var storageClass: String?

    /// Creates a listed object.
    public init(key: String, size: Int64, eTag: String?, lastModified: Date?, storageClass: String?) {
        self.key = key
        self.size = size
        self.eTag = eTag
        self.lastModified = lastModified
        self.storageClass = storageClass
    }
}

/// One page of ListObjectsV2.
public struct S3ListPage: Sendable, Hashable {
    /// The objects of this page, in key order.
    public var objects: [S3ListedObject]
    /// With a delimiter: the common prefixes.
    public var commonPrefixes: [String]
    /// Whether more pages follow.
    public var isTruncated: Bool
    /// The token for the next page, when truncated.
    public var nextContinuationToken: String?

    /// Creates a page.
    public init(objects: [S3ListedObject], commonPrefixes: [String], isTruncated: Bool, nextContinuationToken: String?) {
        self.objects = objects
        self.commonPrefixes = commonPrefixes
        self.isTruncated = isTruncated
        self.nextContinuationToken = nextContinuationToken
    }
}

/// S3 naming rules.
public enum S3Names {
    /// Whether `name` is a valid DNS-style bucket name: 3–63 characters of `a-z 0-9 . -`,
    /// starting and ending with a letter or digit, no `..`, not an IPv4 address, not starting
    /// with `xn--` or `sthree-`, not ending with `-s3alias` or `--ol-s3`.
    public static func isValidBucketName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count) else { return false }
        func isAlphanumeric(_ byte: UInt8) -> Bool { (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) }
        guard bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }),
            isAlphanumeric(bytes.first!), isAlphanumeric(bytes.last!),
            !name.contains(".."), !name.contains(".-"), !name.contains("-.")
        else { return false }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) { return false }
        if name.hasPrefix("xn--") || name.hasPrefix("sthree-") { return false }
        if name.hasSuffix("-s3alias") || name.hasSuffix("--ol-s3") { return false }
        return true
    }

    /// Why `key` cannot be used, or nil when it can: empty, longer than 1024 bytes, or a `.`/`..`
    /// segment (which a proxy or server could collapse into another path).
    public static func keyProblem(_ key: String) -> String? {
        if key.isEmpty { return "the key is empty" }
        if key.utf8.count > 1024 { return "the key is longer than 1024 bytes" }
        for segment in key.split(separator: "/", omittingEmptySubsequences: false) where segment == "." || segment == ".." {
            return "the key has a \"\(segment)\" path segment"
        }
        return nil
    }
}
