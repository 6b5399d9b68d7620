package org.vmspace.vkernel.ipc;

/**
 * Who makes an IPC call: the process's pid (recorded as last sender, receiver, operator,
 * attacher), its effective user and group ids (for the permission checks), and whether it is
 * privileged (uid 0: CAP_IPC_OWNER, CAP_SYS_ADMIN and CAP_SYS_RESOURCE, as for root on Linux).
 *
 * @param pid the thread group id
 */
public record Cred(int pid, int uid, int gid) {
  /** Root: the permission bits and owner checks do not apply. */
  public boolean privileged() {
    return uid == 0;
  }
}
