package org.vmspace.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.vmspace.kvm.testing.GuestFixture.at;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vmspace.api.ExitStatistics;
import org.vmspace.api.HostFile;
import org.vmspace.api.MapFlags;
import org.vmspace.api.Prot;
import org.vmspace.api.RunResult;
import org.vmspace.api.TrapFrame;
import org.vmspace.api.VextFrame;
import org.vmspace.api.VmspaceId;
import org.vmspace.kvm.testing.GuestFixture;
import org.vmspace.kvm.testing.Heartbeat;

/**
 * What a fork costs each side afterwards, counted exactly: with the copy budget
 * ({@code -Dvmspace.forkCopyPages}) the pages the parent owned are the child's own at once and
 * stay writable in the parent, so neither side takes a demand fault or a revocation for its
 * first writes; with a budget of 0 (pure copy-on-write) both do. Whatever the budget, each side
 * reads what it last wrote and never what the other wrote. A forked child reading file text its
 * parent never mapped but the cache holds takes one fault for all of it.
 */
@Tag("kvm")
class ForkCopyKvmTest {
  private static final long DATA = 0x6000_0000L;
  private static final long SMALL = 0x6800_0000L;
  private static final long FILE_AT = 0x5000_0000L;
  private static final int PAGES = 32;
  private static final int RW = Prot.PROT_READ | Prot.PROT_WRITE;
  private static final String BUDGET = "vmspace.forkCopyPages";

  private final GuestFixture g = new GuestFixture();
  @TempDir Path dir;

  @AfterEach
  void close() {
    System.clearProperty(BUDGET);
    g.close();
  }

  private ExitStatistics stats(VmspaceId id) {
    return g.vms.exitStatistics(id);
  }

  /** Runs touch_pages over {@code pages} pages at {@code va}: each page's first byte read, then set to 1. */
  private long touch(VmspaceId id, long va, int pages) {
    TrapFrame f = at("touch_pages").rbx(va).rcx(pages);
    assertThat(g.run(id, f, new VextFrame())).isEqualTo(RunResult.SYSCALL);
    return f.rdi();
  }

  /** A parent whose {@link #PAGES} pages at DATA it has written (each page's first byte is 1). */
  private VmspaceId writtenParent() {
    VmspaceId parent = g.space(1);
    g.anon(parent, DATA, PAGES * 4096L, RW);
    assertThat(touch(parent, DATA, PAGES)).isZero();
    return parent;
  }

  @Test
  void withTheBudgetNeitherSideFaultsOnThePagesTheParentOwned() {
    System.setProperty(BUDGET, "512");
    VmspaceId parent = writtenParent();
    ExitStatistics before = stats(parent);
    VmspaceId child = VmspaceId.of(2);
    g.vms.fork(parent, child);
    assertThat(stats(parent).minus(before).revocations()).as("nothing downgraded in the parent").isZero();

    assertThat(touch(child, DATA, PAGES)).as("the child reads the parent's bytes").isEqualTo(PAGES);
    ExitStatistics c = stats(child);
    assertThat(c.demandFaults()).as("the child's writes").isZero();
    assertThat(c.exits()).as("only touch_pages' system call").isEqualTo(1);
    assertThat(c.revocations()).isZero();

    before = stats(parent);
    assertThat(touch(parent, DATA, PAGES)).isEqualTo(PAGES);
    ExitStatistics p = stats(parent).minus(before);
    assertThat(p.demandFaults()).as("the parent's writes").isZero();
    assertThat(p.exits()).isEqualTo(1);
    assertThat(p.revocations()).isZero();
  }

  /**
   * A page is copied with a memcpy, which a guest thread writing the page meanwhile could tear
   * (the child would see a later word without an earlier one; Linux's shared page cannot). So a
   * fork while another thread of the parent is in {@code ctl(RUN)} copies nothing: every owned
   * page is downgraded and shared, as with a budget of 0.
   */
  @Test
  void aForkWhileAnotherThreadRunsTheParentCopiesNothing() throws Exception {
    System.setProperty(BUDGET, "512");
    VmspaceId parent = writtenParent();
    Heartbeat beat = new Heartbeat(g.vms, parent);
    AtomicBoolean ended = new AtomicBoolean();
    AtomicReference<Thread> spinner = new AtomicReference<>();
    CompletableFuture<RunResult> run = CompletableFuture.supplyAsync(() -> {
      spinner.set(Thread.currentThread());
      try {
        return g.vms.run(parent, at("spin_beat").rax(0).rcx(Heartbeat.ADDRESS), new VextFrame(), Duration.ofMinutes(10));
      } finally {
        ended.set(true);
      }
    });
    long revocations;
    try {
      assertThat(beat.await(1, ended::get)).as("the other thread runs the parent").isTrue();
      ExitStatistics before = stats(parent);
      g.vms.fork(parent, VmspaceId.of(2));
      revocations = stats(parent).minus(before).revocations();
      assertThat(ended).as("still running after the fork").isFalse();
    } finally {
      while (!ended.get()) {
        g.vms.interrupt(spinner.get());
        Thread.sleep(1);
      }
    }
    assertThat(run.get(1, TimeUnit.MINUTES)).isEqualTo(RunResult.INTERRUPTED);
    assertThat(revocations).as("the parent's pages downgraded, none copied").isEqualTo(1);
    assertThat(touch(VmspaceId.of(2), DATA, PAGES)).isEqualTo(PAGES);
    assertThat(stats(VmspaceId.of(2)).demandFaults()).as("copy-on-write: one fault per block").isEqualTo(2);
    beat.close();
  }

  @Test
  void withABudgetOfZeroEachSidesFirstWritesFaultAsPureCopyOnWrite() {
    System.setProperty(BUDGET, "0");
    VmspaceId parent = writtenParent();
    ExitStatistics before = stats(parent);
    VmspaceId child = VmspaceId.of(2);
    g.vms.fork(parent, child);
    assertThat(stats(parent).minus(before).revocations()).as("the parent's pages downgraded").isEqualTo(1);

    assertThat(touch(child, DATA, PAGES)).isEqualTo(PAGES);
    ExitStatistics c = stats(child);
    // One copy-on-write fault per 16-page block, each copying its block in one revocation.
    assertThat(c.demandFaults()).isEqualTo(2);
    assertThat(c.revocations()).isEqualTo(2);

    before = stats(parent);
    assertThat(touch(parent, DATA, PAGES)).isEqualTo(PAGES);
    ExitStatistics p = stats(parent).minus(before);
    // The child has its copies: the parent's frames are its own again, widened in place.
    assertThat(p.demandFaults()).isEqualTo(2);
    assertThat(p.revocations()).isZero();
  }

  @Test
  void aBudgetSmallerThanTheParentsPagesCopiesTheSmallerMappingsAndSharesTheRest() {
    System.setProperty(BUDGET, "8");
    VmspaceId parent = writtenParent(); // 32 owned pages at DATA: over the budget
    g.anon(parent, SMALL, 4 * 4096L, RW);
    assertThat(touch(parent, SMALL, 4)).isZero(); // 4 owned pages: within it
    ExitStatistics before = stats(parent);
    VmspaceId child = VmspaceId.of(2);
    g.vms.fork(parent, child);
    assertThat(stats(parent).minus(before).revocations()).as("DATA downgraded").isEqualTo(1);

    assertThat(touch(child, SMALL, 4)).isEqualTo(4);
    assertThat(stats(child).demandFaults()).as("SMALL was copied").isZero();
    assertThat(touch(child, DATA, PAGES)).isEqualTo(PAGES);
    assertThat(stats(child).demandFaults()).as("DATA is copy-on-write: one fault per block").isEqualTo(2);

    before = stats(parent);
    assertThat(touch(parent, SMALL, 4)).isEqualTo(4);
    assertThat(stats(parent).minus(before).demandFaults()).as("SMALL stayed writable").isZero();
    assertThat(touch(parent, DATA, PAGES)).isEqualTo(PAGES);
    assertThat(stats(parent).minus(before).demandFaults()).isEqualTo(2);
  }

  @Test
  void eachSideReadsItsOwnWritesWhateverTheBudget() {
    long id = 10;
    for (String budget : new String[] {"512", "8", "0"}) {
      System.setProperty(BUDGET, budget);
      isolation(g.space(id), VmspaceId.of(id + 1), budget);
      id += 10;
    }
  }

  /**
   * Parent and child each write some pages after the fork (one, the other, both or neither
   * per page: 32 pages at DATA, over the smallest budget, and 4 at SMALL, within it) and read
   * all back, then the parent goes and the child keeps its bytes.
   */
  private void isolation(VmspaceId parent, VmspaceId child, String budget) {
    g.anon(parent, DATA, PAGES * 4096L, RW);
    g.anon(parent, SMALL, 4 * 4096L, RW);
    g.vms.mmap(parent, SMALL + 0x10000, 4096, RW, MapFlags.MAP_SHARED | MapFlags.MAP_ANON | MapFlags.MAP_FIXED, null, 0);
    for (int i = 0; i < PAGES; i++) {
      g.writeReport(parent, DATA + 4096L * i, 1000 + i);
    }
    for (int i = 0; i < 4; i++) {
      g.writeReport(parent, SMALL + 4096L * i, 100 + i);
    }
    g.writeReport(parent, SMALL + 0x10000, 7);
    g.vms.fork(parent, child);
    for (int i = 0; i < PAGES; i += 3) {
      g.writeReport(parent, DATA + 4096L * i, 3000 + i);
    }
    for (int i = 1; i < PAGES; i += 4) {
      g.writeReport(child, DATA + 4096L * i, 4000 + i);
    }
    g.writeReport(child, SMALL, 200);
    g.writeReport(parent, SMALL + 4096, 301);
    g.writeReport(child, SMALL + 0x10000, 8);
    for (int i = 0; i < PAGES; i++) {
      long expectParent = i % 3 == 0 ? 3000 + i : 1000 + i;
      long expectChild = i % 4 == 1 ? 4000 + i : 1000 + i;
      assertThat(g.readReport(parent, DATA + 4096L * i)).as("budget %s, parent page %d", budget, i).isEqualTo(expectParent);
      assertThat(g.readReport(child, DATA + 4096L * i)).as("budget %s, child page %d", budget, i).isEqualTo(expectChild);
    }
    assertThat(g.readReport(parent, SMALL)).as("budget %s", budget).isEqualTo(100);
    assertThat(g.readReport(child, SMALL)).as("budget %s", budget).isEqualTo(200);
    assertThat(g.readReport(parent, SMALL + 4096)).as("budget %s", budget).isEqualTo(301);
    assertThat(g.readReport(child, SMALL + 4096)).as("budget %s", budget).isEqualTo(101);
    assertThat(g.readReport(parent, SMALL + 0x10000)).as("shared memory stays shared").isEqualTo(8);
    g.vms.destroy(parent);
    assertThat(g.readReport(child, DATA)).as("budget %s: the child outlives the parent", budget).isEqualTo(1000);
    assertThat(g.readReport(child, DATA + 4096)).isEqualTo(4001);
    assertThat(g.readReport(child, SMALL + 4096 * 3)).isEqualTo(103);
  }

  @Test
  void aChildReadingCachedTextItsParentNeverMappedTakesOneFault() throws IOException {
    int pages = 64;
    Path p = dir.resolve("text");
    ByteBuffer bytes = ByteBuffer.allocate(pages * 4096).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < pages; i++) {
      bytes.putLong(i * 4096, 5000 + i);
    }
    Files.write(p, bytes.array());
    try (HostFile file = g.vms.openFile(p, false)) {
      VmspaceId parent = g.space(1);
      g.vms.mmap(parent, FILE_AT, pages * 4096L, Prot.PROT_READ | Prot.PROT_EXEC,
          MapFlags.MAP_PRIVATE | MapFlags.MAP_FIXED, file, 0);
      assertThat(g.readReport(parent, FILE_AT)).isEqualTo(5000); // the cache holds page 0 only
      // Another process reads the whole file into the cache.
      VmspaceId reader = g.space(3);
      g.vms.mmap(reader, FILE_AT, pages * 4096L, Prot.PROT_READ, MapFlags.MAP_PRIVATE | MapFlags.MAP_FIXED, file, 0);
      for (int i = 0; i < pages; i++) {
        assertThat(g.readReport(reader, FILE_AT + 4096L * i)).isEqualTo(5000 + i);
      }
      VmspaceId child = VmspaceId.of(2);
      g.vms.fork(parent, child);
      for (int i = pages - 1; i >= 0; i -= 5) {
        assertThat(g.readReport(child, FILE_AT + 4096L * i)).isEqualTo(5000 + i);
      }
      assertThat(stats(child).demandFaults()).as("one fault maps every cached page").isEqualTo(1);
    }
  }
}
