package io.legate.upstream;

import java.util.ArrayList;
import java.util.List;

/**
 * An immutable snapshot of a cluster's hosts, grouped by priority (index 0 = highest priority).
 * A membership or health change publishes a new snapshot.
 */
public final class PrioritySet {
  public static final PrioritySet EMPTY = new PrioritySet(List.of());

  /** Envoy's default overprovisioning factor, in percent (1.4). */
  public static final int DEFAULT_OVERPROVISIONING_FACTOR = 140;

  private final List<List<Host>> byPriority;
  private final List<Host> all;
  private final int overprovisioningFactor;
  private final boolean weightedPriorityHealth;

  public PrioritySet(List<List<Host>> byPriority) {
    this(byPriority, DEFAULT_OVERPROVISIONING_FACTOR, false);
  }

  /**
   * Creates a snapshot with the load-assignment policy that goes with it.
   *
   * @param overprovisioningFactor {@code policy.overprovisioning_factor} in percent (140 = 1.4)
   * @param weightedPriorityHealth {@code policy.weighted_priority_health}: priority health counts
   *     host weights rather than hosts
   */
  public PrioritySet(
      List<List<Host>> byPriority, int overprovisioningFactor, boolean weightedPriorityHealth) {
    this.overprovisioningFactor = overprovisioningFactor;
    this.weightedPriorityHealth = weightedPriorityHealth;
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

  /** Returns the overprovisioning factor in percent (140 means 1.4). */
  public int overprovisioningFactor() {
    return overprovisioningFactor;
  }

  /** Returns whether priority health is computed from host weights. */
  public boolean weightedPriorityHealth() {
    return weightedPriorityHealth;
  }

  /** Returns a new snapshot with the same hosts and policy (published after a health change). */
  public PrioritySet copy() {
    return new PrioritySet(byPriority, overprovisioningFactor, weightedPriorityHealth);
  }

  /** Returns every host. */
  public List<Host> hosts() {
    return all;
  }
}
