import Glibc

/// Writes one line to standard error (unbuffered, safe from any thread).
public func logLine(_ message: String) {
    let line = message + "\n"
    line.withCString { p in _ = write(2, p, strlen(p)) }
}
