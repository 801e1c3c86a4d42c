package io.legate.upstream;

import java.util.ArrayList;
import java.util.List;

/**
 * An immutable snapshot of a cluster's hosts, grouped by priority (index 0 = highest priority).
 * A membership or health change publishes a new snapshot.
 */
public final class PrioritySet {
  public static final PrioritySet EMPTY = new PrioritySet(List.of());

  private final List<List<Host>> byPriority;
  private final List<Host> all;

  public PrioritySet(List<List<Host>> byPriority) {
    List<List<Host>> copy = new ArrayList<>();
    List<Host> flat = new ArrayList<>();
    for (List<Host> level : byPriority) {
      copy.add(List.copyOf(level));
      flat.addAll(level);
    }
    this.byPriority = List.copyOf(copy);
    this.all = List.copyOf(flat);
  }

  /** Returns hosts of each priority level, highest first. */
  public List<List<Host>> byPriority() {
    return byPriority;
  }

  /** Returns every host. */
  public List<Host> hosts() {
    return all;
  }
}
