package org.vmspace.vkernel.cli;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import org.vmspace.vkernel.signal.Signals;

/**
 * Forwards SIGINT, SIGTERM and SIGHUP sent to the JVM (Ctrl-C in a terminal, kill of the
 * vkernel) to whoever runs the guest (the guest's foreground process group, or the emulated
 * machine), which decides what they do, instead of ending the JVM. Uses {@code sun.misc.Signal}
 * from the jdk.unsupported module, looked up reflectively; where it is missing the JVM's own
 * handling stays.
 */
final class ForwardedSignals {
  private static final String[] NAMES = {"INT", "TERM", "HUP"};
  private static final int[] NUMBERS = {Signals.SIGINT, Signals.SIGTERM, Signals.SIGHUP};
  private final List<Object[]> previous = new ArrayList<>();
  private Method handle;

  private ForwardedSignals() {}

  /** Sends each of the three signals, by its Linux number, to {@code target} until uninstalled. */
  static ForwardedSignals install(IntConsumer target) {
    ForwardedSignals f = new ForwardedSignals();
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
      f.handle = signal.getMethod("handle", signal, handlerType);
      for (int i = 0; i < NAMES.length; i++) {
        int number = NUMBERS[i];
        Object sig = signal.getConstructor(String.class).newInstance(NAMES[i]);
        Object handler = Proxy.newProxyInstance(ForwardedSignals.class.getClassLoader(), new Class<?>[] {handlerType},
            (proxy, method, args) -> {
              if (method.getName().equals("handle")) {
                target.accept(number);
                return null;
              }
              return method.getName().equals("toString") ? "vkernel forwarder" : null;
            });
        try {
          Object old = f.handle.invoke(null, sig, handler);
          f.previous.add(new Object[] {sig, old});
        } catch (InvocationTargetException e) {
          // The JVM reserves this signal (or it is ignored at start): leave it.
        }
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      // No sun.misc.Signal: the JVM's default handling stays.
    }
    return f;
  }

  void uninstall() {
    for (Object[] p : previous) {
      try {
        handle.invoke(null, p[0], p[1]);
      } catch (ReflectiveOperationException | RuntimeException e) {
        // nothing to restore
      }
    }
    previous.clear();
  }
}
