package org.vmspace.registry;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * The sequential specification of {@link IdRegistry} for Lincheck: the contract's id and
 * reference rules (docs/api.md, "Ids and references") as plain bookkeeping, one operation at a
 * time. Its operations mirror {@link IdRegistryLincheckTest}'s, with the same results.
 */
public class RegistryModel {
  /** One generation of an id: the entry a create made, until its destroy. */
  private static final class Gen {
    final int id;
    int activeRefs;

    Gen(int id) {
      this.id = id;
    }
  }

  private static final int SLOTS = 8;
  private final TreeMap<Integer, Gen> live = new TreeMap<>();

  private final List<List<Gen>> active = new ArrayList<>();

  private final List<List<Gen>> holds = new ArrayList<>();

  private int contextRefs = 1;

  /** An empty context with one reference. */
  public RegistryModel() {
    for (int i = 0; i < SLOTS; i++) {
      active.add(new ArrayList<>());
      holds.add(new ArrayList<>());
    }
  }

  public String create(int thread, int id) {
    if (contextRefs == 0) {
      return "closed";
    }
    if (live.containsKey(id)) {
      return "false";
    }
    live.put(id, new Gen(id));
    return "true";
  }

  public IdRegistry.Removal destroy(int id) {
    Gen g = live.get(id);
    if (g == null) {
      return IdRegistry.Removal.NOT_FOUND;
    }
    if (g.activeRefs > 0) {
      return IdRegistry.Removal.BUSY;
    }
    live.remove(id);
    return IdRegistry.Removal.REMOVED;
  }

  public boolean acquire(int thread, int id) {
    Gen g = live.get(id);
    if (g == null) {
      return false;
    }
    g.activeRefs++;
    active.get(thread).add(g);
    return true;
  }

  public boolean release(int thread, int id) {
    Gen g = takeLatest(active.get(thread), id);
    if (g == null) {
      return false;
    }
    g.activeRefs--;
    return true;
  }

  public boolean hold(int thread, int id) {
    List<Gen> mine = active.get(thread);
    for (int i = mine.size() - 1; i >= 0; i--) {
      if (mine.get(i).id == id) {
        holds.get(thread).add(mine.get(i));
        return true;
      }
    }
    return false;
  }

  public boolean unhold(int thread, int id) {
    return takeLatest(holds.get(thread), id) != null;
  }

  public List<Long> ids() {
    List<Long> ids = new ArrayList<>();
    live.keySet().forEach(k -> ids.add((long) k));
    return ids;
  }

  public String inherit() {
    if (contextRefs == 0) {
      return "closed";
    }
    contextRefs++;
    return "ok";
  }

  public String close() {
    if (contextRefs == 0) {
      return "closed";
    }
    if (--contextRefs > 0) {
      return "more";
    }
    // The last close deletes every entry at once, referenced or not.
    live.clear();
    return "last";
  }

  private static Gen takeLatest(List<Gen> refs, int id) {
    for (int i = refs.size() - 1; i >= 0; i--) {
      if (refs.get(i).id == id) {
        return refs.remove(i);
      }
    }
    return null;
  }
}
