/**
 * System V IPC: one IPC namespace per kernel ({@link org.vmspace.vkernel.ipc.IpcNamespace})
 * holding message queues ({@link org.vmspace.vkernel.ipc.MsgQueues}), semaphore sets with their
 * SEM_UNDO adjustments ({@link org.vmspace.vkernel.ipc.SemArrays}) and shared memory segments
 * ({@link org.vmspace.vkernel.ipc.ShmSegments}), with Linux's keys, ids, permissions, limits and
 * errnos.
 *
 * <p>The package knows neither tasks nor guest memory: a blocking operation sleeps through a
 * {@link org.vmspace.vkernel.ipc.Sleeper} the caller supplies (a guest thread in the vkernel, a
 * Java thread in the host tests), and the caller copies to and from guest memory. So it depends
 * only on {@code sys} and the vmspace API, and {@code proc} may depend on it.
 */
package org.vmspace.vkernel.ipc;
