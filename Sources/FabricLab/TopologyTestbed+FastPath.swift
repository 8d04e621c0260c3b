/// What a test bed needs for `fabric switch --fastpath on`: a frame the XDP fast path redirects
/// into a veth reaches the other end only if that end has an XDP program or GRO on (DESIGN.md,
/// "Facts measured"); otherwise it vanishes. The hosts' ends get GRO; the switches' ends have
/// the switches' own programs.
extension TopologyTestbed {
    /// Turns GRO on at every host's end of its link (idempotent; the bed must be up).
    public func prepareHostsForFastPath() throws {
        for h in plan.hosts where isLocal(h.name) {
            try Shell.inNamespace(namespace(h.name), ["ethtool", "-K", h.interface, "gro", "on"])
        }
    }
}
