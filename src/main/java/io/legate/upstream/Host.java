package io.legate.upstream;

import io.legate.upstream.outlier.HostMonitor;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * One upstream endpoint of a cluster. Identity and weight are immutable; the few counters on it are
 * shared by all workers (Envoy keeps per-host stats as atomics too).
 */
public final class Host {
  /** Health flag: failed active health checking (set by the health checker). */
  public static final int FAILED_ACTIVE_HC = 1;
  /** Health flag: ejected by outlier detection. */
  public static final int FAILED_OUTLIER_CHECK = 2;
  /** Health flag: EDS said unhealthy/draining. */
  public static final int FAILED_EDS_HEALTH = 4;

  private final String clusterName;
  private final InetSocketAddress address;
  private final String addressString;
  private final String hostname;
  private final int weight;
  private final int priority;
  private final String zone;
  private final Locality locality;
  private volatile int healthFlags;
  private volatile HostMonitor outlier = HostMonitor.NONE;
  private volatile long slowStartSinceNanos = System.nanoTime();

  /** Requests now in flight to this host (LEAST_REQUEST reads it). */
  public final AtomicInteger activeRequests = new AtomicInteger();
  /** Connections now open to this host. */
  public final AtomicInteger activeConnections = new AtomicInteger();
  public final LongAdder cxTotal = new LongAdder();
  public final LongAdder cxConnectFail = new LongAdder();
  public final LongAdder rqTotal = new LongAdder();
  public final LongAdder rqSuccess = new LongAdder();
  public final LongAdder rqError = new LongAdder();
  public final LongAdder rqTimeout = new LongAdder();

  /**
   * Creates a host.
   *
   * @param address a resolved address
   * @param hostname the name this host is known by (DNS name or the endpoint's {@code hostname}),
   *     used by {@code auto_host_rewrite}; may be empty
   */
  public Host(
      String clusterName,
      InetSocketAddress address,
      String hostname,
      int weight,
      int priority,
      String zone) {
    this(clusterName, address, hostname, weight, priority, zone, Locality.NONE);
  }

  /**
   * The endpoint's locality: its name ({@code region/zone/sub_zone}) and the locality's {@code
   * load_balancing_weight} (0 when unset), for {@code locality_weighted_lb_config}.
   */
  public record Locality(String name, int weight) {
    /** No locality information. */
    public static final Locality NONE = new Locality("", 0);
  }

  /** Creates a host in a locality. */
  public Host(
      String clusterName,
      InetSocketAddress address,
      String hostname,
      int weight,
      int priority,
      String zone,
      Locality locality) {
    this.locality = locality;
    this.clusterName = clusterName;
    this.address = address;
    this.addressString = address.getAddress().getHostAddress() + ":" + address.getPort();
    this.hostname = hostname == null ? "" : hostname;
    this.weight = Math.max(1, weight);
    this.priority = priority;
    this.zone = zone == null ? "" : zone;
  }

  /**
   * Returns when this host's slow start began ({@link System#nanoTime()} at creation, unless
   * restarted): balancers with {@code slow_start_config} ramp its weight up from then.
   */
  public long slowStartSinceNanos() {
    return slowStartSinceNanos;
  }

  /** Restarts this host's slow start at {@code nanoTime} (for a host that became usable again). */
  public void restartSlowStart(long nanoTime) {
    slowStartSinceNanos = nanoTime;
  }

  /** Returns the endpoint's locality (name and locality weight). */
  public Locality locality() {
    return locality;
  }

  public String clusterName() {
    return clusterName;
  }

  public InetSocketAddress address() {
    return address;
  }

  /** Returns {@code ip:port} (IPv6 without brackets, as Envoy prints in /clusters). */
  public String addressString() {
    return addressString;
  }

  public String hostname() {
    return hostname;
  }

  public int weight() {
    return weight;
  }

  public int priority() {
    return priority;
  }

  public String zone() {
    return zone;
  }

  public int healthFlags() {
    return healthFlags;
  }

  public boolean healthy() {
    return healthFlags == 0;
  }

  public void setHealthFlag(int flag) {
    synchronized (this) {
      healthFlags |= flag;
    }
  }

  public void clearHealthFlag(int flag) {
    synchronized (this) {
      healthFlags &= ~flag;
    }
  }

  /**
   * Returns the outlier-detection recorder of this host: workers report request results to it
   * without locks. Hosts of clusters without {@code outlier_detection} return {@link
   * HostMonitor#NONE}, which ignores them.
   */
  public HostMonitor outlier() {
    return outlier;
  }

  /** Sets the outlier-detection recorder (the cluster's detector does, on the main loop). */
  public void setOutlier(HostMonitor monitor) {
    this.outlier = monitor == null ? HostMonitor.NONE : monitor;
  }

  @Override
  public String toString() {
    return addressString;
  }
}
