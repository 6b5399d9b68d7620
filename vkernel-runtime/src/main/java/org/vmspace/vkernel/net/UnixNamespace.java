package org.vmspace.vkernel.net;

import java.util.HashMap;
import java.util.Map;
import org.vmspace.vkernel.fs.HostInode;
import org.vmspace.vkernel.sys.LinuxErrno;
import org.vmspace.vkernel.sys.PathBytes;
import org.vmspace.vkernel.sys.SyscallError;

/**
 * The AF_UNIX names of one kernel: sockets bound to files (by the socket file's host inode), to
 * abstract names (private to this kernel: the host never sees them) and to the host's automatic
 * names behind them (so a datagram's sender is known by its guest name). Thread-safe.
 */
public final class UnixNamespace {
  private final Map<HostInode, UnixSocket> byPath = new HashMap<>();
  private final Map<String, UnixSocket> byAbstract = new HashMap<>();
  private final Map<String, UnixSocket> byHostName = new HashMap<>();
  private int nextAuto;
  private final InFlight inFlight = new InFlight();

  /** The descriptions in flight in this kernel's sockets (SCM_RIGHTS). */
  public InFlight inFlight() {
    return inFlight;
  }

  /** The socket bound to the socket file {@code key}, or null (nobody: ECONNREFUSED). */
  public synchronized UnixSocket byPath(HostInode key) {
    return byPath.get(key);
  }

  /** The socket bound to the abstract name (its bytes after the leading NUL), or null. */
  public synchronized UnixSocket byAbstract(byte[] name) {
    return byAbstract.get(PathBytes.of(name));
  }

  /** The socket whose host name is {@code hostName}, or null. */
  synchronized UnixSocket byHostName(byte[] hostName) {
    return byHostName.get(PathBytes.of(hostName));
  }

  synchronized void addPath(HostInode key, UnixSocket s) {
    byPath.put(key, s);
  }

  /** @throws SyscallError EADDRINUSE if the name is taken */
  synchronized void addAbstract(byte[] name, UnixSocket s) {
    String k = PathBytes.of(name);
    if (byAbstract.containsKey(k)) {
      throw new SyscallError(LinuxErrno.EADDRINUSE);
    }
    byAbstract.put(k, s);
  }

  /** A free abstract name for autobind: five hex digits, as Linux picks them. */
  synchronized byte[] autoName() {
    for (int i = 0; i < 0x100000; i++) {
      byte[] name = String.format("%05x", nextAuto++ & 0xfffff).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      if (!byAbstract.containsKey(PathBytes.of(name))) {
        return name;
      }
    }
    throw new SyscallError(LinuxErrno.ENOSPC);
  }

  synchronized void addHostName(byte[] hostName, UnixSocket s) {
    byHostName.put(PathBytes.of(hostName), s);
  }

  /** Forgets every name of {@code s} (it was closed). */
  synchronized void remove(UnixSocket s) {
    byPath.values().removeIf(v -> v == s);
    byAbstract.values().removeIf(v -> v == s);
    byHostName.values().removeIf(v -> v == s);
  }
}
