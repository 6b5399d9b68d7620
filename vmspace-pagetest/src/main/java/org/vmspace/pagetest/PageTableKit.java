package org.vmspace.pagetest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.VmspaceService;
import org.vmspace.api.Vmspaces;
import org.vmspace.kvm.paging.Access;
import org.vmspace.kvm.paging.AccessModel;
import org.vmspace.kvm.paging.Outcome;
import org.vmspace.kvm.paging.PagingControls;
import org.vmspace.kvm.paging.TableMemory;

/**
 * Everything one page-table test needs, opened together and closed together: a {@link
 * VmspaceService}, a memory object that is the guest's physical memory, a {@link
 * PageTableBuilder} over it (tables in {@code [0, tableRegionEnd)}, the rest for pages), an
 * {@link AccessRunner} and the reference {@link AccessModel} on the same memory. The {@link
 * PageTableExtension} hands one to each test.
 *
 * <pre>{@code
 * kit.tables().map(0x400000, 0x200000, PageSize.SIZE_4K, P | US | NX);
 * assertThat(kit.run(write(0x400000))).faultsWith(PF_USER | PF_WRITE | PF_PROT).agreesWithModel();
 * }</pre>
 *
 * <p>{@link #run} asks the model first, on the tables as they are, then runs the access on the
 * machine; the result carries both. Not thread-safe. {@link #close()} releases the runner's
 * vmspace, the object and the service, in that order, and is idempotent.
 */
public final class PageTableKit implements AutoCloseable {
  /** The default size of the memory object: 8 MiB. */
  public static final long DEFAULT_MEMORY = 8L << 20;
  /** The default end of the table region: the first MiB holds the tables, the rest is for pages. */
  public static final long DEFAULT_TABLE_REGION_END = 1L << 20;

  private final VmspaceService service;
  private final MemoryObject memory;
  private final PageTableBuilder tables;
  private final AccessRunner runner;
  private final AccessModel model;
  private boolean closed;

  private PageTableKit(VmspaceService service, MemoryObject memory, PageTableBuilder tables, AccessRunner runner,
      AccessModel model) {
    this.service = service;
    this.memory = memory;
    this.tables = tables;
    this.runner = runner;
    this.model = model;
  }

  /**
   * A kit with {@link #DEFAULT_MEMORY} bytes of memory and tables in its first MiB, on the service
   * {@link Vmspaces#open()} gives.
   *
   * @throws org.vmspace.api.VmspaceException if no backend can run here or the service refuses
   */
  public static PageTableKit open() {
    return open(DEFAULT_MEMORY, DEFAULT_TABLE_REGION_END);
  }

  /**
   * A kit with {@code memorySize} bytes of memory, tables in {@code [0, tableRegionEnd)}.
   *
   * @throws IllegalArgumentException if the region does not fit the memory
   * @throws org.vmspace.api.VmspaceException if no backend can run here or the service refuses
   */
  public static PageTableKit open(long memorySize, long tableRegionEnd) {
    VmspaceService service = Vmspaces.open();
    MemoryObject memory = null;
    try {
      memory = service.createMemoryObject(memorySize);
      PageTableBuilder tables = PageTableBuilder.in(memory.segment(), 0, tableRegionEnd);
      AccessModel model = new AccessModel(TableMemory.of(memory.segment()), PagingControls.guest(maxPhysAddr()));
      AccessRunner runner = new AccessRunner(service, memory, tables);
      return new PageTableKit(service, memory, tables, runner, model);
    } catch (RuntimeException | Error e) {
      if (memory != null) {
        memory.close();
      }
      service.close();
      throw e;
    }
  }

  /** The service. */
  public VmspaceService service() {
    return service;
  }

  /** The memory object: the guest's physical memory, offsets are physical addresses. */
  public MemoryObject memory() {
    return memory;
  }

  /** The builder of the tables the guest runs on. */
  public PageTableBuilder tables() {
    return tables;
  }

  /** The runner. */
  public AccessRunner runner() {
    return runner;
  }

  /** The reference model, on the same memory, with the controls the service's guests run with. */
  public AccessModel model() {
    return model;
  }

  /**
   * Where this JVM runs guest code: the {@code vmspace.kvm.where} system property the build's
   * KVM test JVMs get ({@code native}, {@code emulated-svm-npt-on}, {@code emulated-svm-npt-off}),
   * or {@code native} when it is not set.
   */
  public static String where() {
    return System.getProperty("vmspace.kvm.where", "native");
  }

  /** The model's verdict on {@code access} with the tables as they are now (nothing runs). */
  public Outcome predict(UserAccess access) {
    return model.userAccess(tables.root(), access.va(), modelAccess(access.type()));
  }

  /**
   * The model's verdict, then the access on the machine: the result carries both ({@link
   * MachineResult#model()}).
   *
   * @throws IllegalArgumentException as {@link AccessRunner#run}
   * @throws IllegalStateException if the kit is closed
   */
  public MachineResult run(UserAccess access) {
    if (closed) {
      throw new IllegalStateException("the kit is closed");
    }
    Outcome expected = predict(access);
    return runner.run(access).withModel(expected);
  }

  static Access modelAccess(UserAccess.Type type) {
    return switch (type) {
      case READ -> Access.READ;
      case WRITE -> Access.WRITE;
      case FETCH -> Access.EXECUTE;
    };
  }

  /**
   * MAXPHYADDR of this machine's CPU, which KVM passes on to its guests: {@code address sizes} in
   * {@code /proc/cpuinfo}.
   *
   * @throws IllegalStateException if it cannot be read
   */
  static int maxPhysAddr() {
    try {
      Matcher m = Pattern.compile("address sizes\\s*:\\s*(\\d+) bits physical").matcher(Files.readString(Path.of("/proc/cpuinfo")));
      if (m.find()) {
        return Integer.parseInt(m.group(1));
      }
      throw new IllegalStateException("/proc/cpuinfo has no 'address sizes' line: MAXPHYADDR unknown");
    } catch (IOException e) {
      throw new IllegalStateException("cannot read /proc/cpuinfo for MAXPHYADDR: " + e.getMessage(), e);
    }
  }

  /** Closes the runner's vmspace, the memory object and the service; idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      runner.close();
    } finally {
      try {
        memory.close();
      } finally {
        service.close();
      }
    }
  }
}
