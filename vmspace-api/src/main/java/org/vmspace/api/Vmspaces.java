package org.vmspace.api;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;
import org.vmspace.api.spi.VmspaceBackend;

/**
 * The entry point: opens a {@link VmspaceService} on the best backend available.
 *
 * <pre>{@code
 * try (VmspaceService vms = Vmspaces.open()) {
 *   VmspaceId id = VmspaceId.of(1);
 *   vms.create(id);
 *   long text = vms.mmap(id, 0x400000, 4096, Prot.PROT_READ | Prot.PROT_EXEC,
 *       MapFlags.MAP_PRIVATE | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0);
 *   ...
 *   RunResult why = vms.run(id, frame, vframe);
 * }
 * }</pre>
 */
public final class Vmspaces {
  private Vmspaces() {}

  /** Opens a context with {@link VmspaceOptions#defaults()}. */
  public static VmspaceService open() {
    return open(VmspaceOptions.defaults());
  }

  /**
   * Opens a context on the backend the options ask for, or the available backend with the
   * highest priority.
   *
   * @throws VmspaceException {@link Errno#EOPNOTSUPP} if no backend can run on this machine (the
   *     message says why each one cannot), or the errno with which opening failed
   */
  public static VmspaceService open(VmspaceOptions options) {
    List<String> reasons = new ArrayList<>();
    for (VmspaceBackend backend : backends()) {
      if (options.backend().isPresent() && !options.backend().get().equals(backend.name())) {
        continue;
      }
      BackendInfo info = backend.probe();
      if (info.available()) {
        return backend.open(options);
      }
      reasons.add(backend.name() + ": " + info.summary());
    }
    if (reasons.isEmpty()) {
      reasons.add(options.backend().map(n -> "no backend named " + n).orElse("no backend on the class path"));
    }
    throw new VmspaceException(Errno.EOPNOTSUPP, "vmspace_open", null, String.join("; ", reasons));
  }

  /**
   * Probes every backend on the class path, best first.
   *
   * @return one entry per backend, available or not
   */
  public static List<BackendInfo> probe() {
    List<BackendInfo> infos = new ArrayList<>();
    for (VmspaceBackend backend : backends()) {
      infos.add(backend.probe());
    }
    return infos;
  }

  private static List<VmspaceBackend> backends() {
    List<VmspaceBackend> list = new ArrayList<>();
    ServiceLoader.load(VmspaceBackend.class, Vmspaces.class.getClassLoader()).forEach(list::add);
    list.sort(Comparator.comparingInt(VmspaceBackend::priority).reversed());
    return list;
  }
}
