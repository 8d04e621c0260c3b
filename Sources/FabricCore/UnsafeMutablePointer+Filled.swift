extension UnsafeMutablePointer {
    /// `count` elements allocated and initialized to `value`: the tables and per-port arrays
    /// the datapath sets up once and then only reads and writes in place.
    @inlinable
    public static func filled(with value: Pointee, count: Int) -> UnsafeMutablePointer<Pointee> {
        let p = UnsafeMutablePointer<Pointee>.allocate(capacity: count)
        p.initialize(repeating: value, count: count)
        return p
    }
}
