import CFabricShims
import Glibc

/// Where threads run and how much they weigh.
public enum Affinity {
    /// Moves the calling thread off the CPUs the process was pinned to (taskset pins every
    /// thread of the switch to the worker's CPU), onto the machine's other online CPUs, when
    /// there are any: telemetry threads must not take time from the forwarding worker.
    public static func leaveWorkerCPUs() {
        var current = [UInt8](repeating: 0, count: 128)
        guard sf_thread_getaffinity(UInt(current.count), &current) > 0 else { return }
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        var others = [UInt8](repeating: 0, count: 128)
        var any = false
        for cpu in 0..<min(online, 128 * 8) where current[cpu / 8] & (1 << (cpu % 8)) == 0 {
            others[cpu / 8] |= 1 << (cpu % 8)
            any = true
        }
        if any { _ = sf_thread_setaffinity(UInt(others.count), others) }
    }

    /// The CPUs the calling thread may run on (its taskset), in order.
    public static func allowedCPUs() -> [Int] {
        var mask = [UInt8](repeating: 0, count: 128)
        guard sf_thread_getaffinity(UInt(mask.count), &mask) > 0 else { return [] }
        return (0..<(128 * 8)).filter { mask[$0 / 8] & (1 << ($0 % 8)) != 0 }
    }

    /// Pins the calling thread to `cpu`; false if the kernel refused.
    @discardableResult
    public static func pin(cpu: Int) -> Bool {
        var one = [UInt8](repeating: 0, count: 128)
        one[cpu / 8] = 1 << (cpu % 8)
        return sf_thread_setaffinity(UInt(one.count), one) == 0
    }

    /// Runs the calling thread only (not the process) under SCHED_FIFO at `priority` (1...99).
    public static func setThreadRealtime(priority: Int) throws {
        var param = sched_param()
        param.sched_priority = Int32(priority)
        let rc = pthread_setschedparam(pthread_self(), Int32(SCHED_FIFO), &param)
        if rc != 0 { throw SystemError("cannot run the thread at SCHED_FIFO priority \(priority) (needs CAP_SYS_NICE, and a real-time budget where cgroups ration it)", errno: rc) }
    }

    /// Sets the nice value of the calling thread only (not the process).
    public static func setThreadNice(_ nice: Int) throws {
        let rc = sf_thread_setnice(Int32(nice))
        if rc != 0 { throw SystemError.negative(rc, "cannot set the thread's nice value to \(nice)") }
    }
}
