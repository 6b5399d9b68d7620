package org.vmspace.kvm.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.vmspace.api.MapFlags;
import org.vmspace.api.MemoryObject;
import org.vmspace.api.Prot;
import org.vmspace.api.VmspaceId;
import org.vmspace.api.VmspaceService;

/**
 * A test guest program assembled at build time from {@code src/test/asm/NAME.S}: its flat
 * image (linked at {@link #BASE}) and its symbols.
 */
public final class GuestProgram {
  /** Where the programs are linked. */
  public static final long BASE = 0x400000;

  private final byte[] image;
  private final Map<String, Long> symbols;

  private GuestProgram(byte[] image, Map<String, Long> symbols) {
    this.image = image;
    this.symbols = symbols;
  }

  /** Loads {@code guests/NAME.bin} and {@code guests/NAME.sym} from the test class path. */
  public static GuestProgram load(String name) {
    try (InputStream bin = resource(name + ".bin");
        InputStream sym = resource(name + ".sym")) {
      byte[] image = bin.readAllBytes();
      Map<String, Long> symbols = new HashMap<>();
      for (String line : new String(sym.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
        String[] parts = line.trim().split("\\s+");
        if (parts.length == 2) {
          symbols.put(parts[1], Long.parseUnsignedLong(parts[0], 16));
        }
      }
      return new GuestProgram(image, symbols);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static InputStream resource(String name) {
    InputStream in = GuestProgram.class.getResourceAsStream("/guests/" + name);
    if (in == null) {
      throw new IllegalStateException("missing guest resource " + name + ": run the Maven build");
    }
    return in;
  }

  /** The address of a symbol. */
  public long symbol(String name) {
    Long a = symbols.get(name);
    if (a == null) {
      throw new IllegalArgumentException("no symbol " + name);
    }
    return a;
  }

  /** A copy of the flat image (linked at {@link #BASE}). */
  public byte[] image() {
    return image.clone();
  }

  /** The image size in bytes. */
  public int size() {
    return image.length;
  }

  /**
   * Maps the image read+execute at {@link #BASE} in {@code id}: the bytes go into a memory
   * object (the caller writes it directly, as a vkernel writes its memory image), mapped shared.
   * pwrite could not do it: it honours the mapping's protection, and text is not writable.
   */
  public void loadInto(VmspaceService vms, VmspaceId id) {
    long len = (image.length + 4095) & ~4095L;
    try (MemoryObject text = vms.createMemoryObject(len)) {
      MemorySegment.copy(MemorySegment.ofArray(image), 0, text.segment(), 0, image.length);
      vms.mmap(id, BASE, len, Prot.PROT_READ | Prot.PROT_EXEC,
          MapFlags.MAP_SHARED | MapFlags.MAP_FIXED, text, 0);
    }
  }
}
