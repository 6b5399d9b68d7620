/** Linux signals: numbers, default actions, actions, and the x86-64 rt_sigframe on the guest stack. */
package org.vmspace.vkernel.signal;
