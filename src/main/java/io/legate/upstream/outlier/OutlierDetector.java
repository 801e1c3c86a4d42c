package io.legate.upstream.outlier;

import io.legate.upstream.Cluster;
import io.legate.upstream.Host;
import io.legate.upstream.PrioritySet;
import io.legate.upstream.outlier.HostMonitor.EjectionType;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Outlier detection of one cluster, as Envoy's {@code Outlier::DetectorImpl}. Workers record
 * results on each host's {@link HostMonitor}; consecutive-failure ejections are decided on the main
 * loop as soon as a threshold is reached, success-rate and failure-percentage ejections and
 * un-ejections on the interval timer. An ejection sets {@link Host#FAILED_OUTLIER_CHECK} for
 * {@code base_ejection_time} × (number of ejections), capped by {@code max_ejection_time}, and
 * republishes the hosts so workers rebuild their balancers. At most {@code max_ejection_percent} of
 * the hosts are ejected at once.
 *
 * <p>Main loop only, except {@link #attach} and {@link #onConsecutiveError}.
 */
public final class OutlierDetector {
  private final Cluster cluster;
  private final OutlierConfig config;
  private final EventLoop loop;
  private final OutlierStats stats;
  private final LongSupplier nanoClock;
  private final Map<Host, HostMonitor> monitors = new LinkedHashMap<>();
  private int ejectionsActive;
  private ScheduledFuture<?> timer;
  private boolean stopped;
  private double successRateAverage = -1;
  private double successRateEjectionThreshold = -1;
  private double localOriginSuccessRateAverage = -1;
  private double localOriginSuccessRateEjectionThreshold = -1;

  private OutlierDetector(Cluster cluster, OutlierConfig config, EventLoop loop, LongSupplier nanoClock) {
    this.cluster = cluster;
    this.config = config;
    this.loop = loop;
    this.nanoClock = nanoClock;
    this.stats = new OutlierStats(cluster.info().stats().scope());
  }

  /**
   * Creates the detector of {@code cluster} and hooks it to the cluster: each host the cluster
   * publishes gets a {@link HostMonitor} before workers see it, the interval timer starts, and the
   * detector stops when the cluster shuts down.
   */
  public static OutlierDetector attach(Cluster cluster, OutlierConfig config, EventLoop loop) {
    return attach(cluster, config, loop, System::nanoTime);
  }

  /** As {@link #attach(Cluster, OutlierConfig, EventLoop)}, with the clock used for ejection times. */
  public static OutlierDetector attach(
      Cluster cluster, OutlierConfig config, EventLoop loop, LongSupplier nanoClock) {
    OutlierDetector d = new OutlierDetector(cluster, config, loop, nanoClock);
    cluster.addPrePublishHook(d::onHosts);
    cluster.addShutdownHook(d::stop);
    loop.execute(d::armTimer);
    return d;
  }

  /** Returns the settings. */
  public OutlierConfig config() {
    return config;
  }

  /** Returns the stats. */
  public OutlierStats stats() {
    return stats;
  }

  /** Returns the cluster's average success rate of the last interval, or -1 (Envoy's /clusters). */
  public double successRateAverage() {
    return successRateAverage;
  }

  /** Returns the success-rate ejection threshold of the last interval, or -1. */
  public double successRateEjectionThreshold() {
    return successRateEjectionThreshold;
  }

  /** Returns the local-origin average success rate of the last interval, or -1. */
  public double localOriginSuccessRateAverage() {
    return localOriginSuccessRateAverage;
  }

  /** Returns the local-origin success-rate ejection threshold of the last interval, or -1. */
  public double localOriginSuccessRateEjectionThreshold() {
    return localOriginSuccessRateEjectionThreshold;
  }

  private void onHosts(PrioritySet next) {
    assert loop.inEventLoop();
    Map<Host, Boolean> live = new IdentityHashMap<>();
    for (Host h : next.hosts()) {
      live.put(h, Boolean.TRUE);
      if (!monitors.containsKey(h)) {
        HostMonitor m = new HostMonitor(this, h);
        monitors.put(h, m);
        h.setOutlier(m);
      }
    }
    monitors.entrySet().removeIf(e -> {
      if (live.containsKey(e.getKey())) {
        return false;
      }
      if ((e.getKey().healthFlags() & Host.FAILED_OUTLIER_CHECK) != 0) {
        ejectionsActive--;
        stats.ejectionsActive.dec();
      }
      return true;
    });
  }

  private void armTimer() {
    if (!stopped) {
      timer = loop.schedule(this::onIntervalTimer, config.intervalMs(), TimeUnit.MILLISECONDS);
    }
  }

  /** Stops the interval timer; hosts keep their flags. */
  public void stop() {
    if (!loop.inEventLoop()) {
      if (!loop.isShuttingDown()) {
        loop.execute(this::stop);
      }
      return;
    }
    stopped = true;
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
    stats.ejectionsActive.add(-ejectionsActive);
    ejectionsActive = 0;
  }

  /** Called from any thread when a host's consecutive-failure count reached its threshold. */
  void onConsecutiveError(Host host, EjectionType type) {
    if (loop.isShuttingDown()) {
      return;
    }
    loop.execute(() -> onConsecutiveError0(host, type));
  }

  private void onConsecutiveError0(Host host, EjectionType type) {
    HostMonitor m = monitors.get(host);
    if (stopped || m == null || (host.healthFlags() & Host.FAILED_OUTLIER_CHECK) != 0) {
      return;
    }
    updateDetectedStats(type);
    if (ejectHost(host, m, type)) {
      cluster.notifyHealthChanged();
    }
    if (type == EjectionType.CONSECUTIVE_5XX) {
      stats.ejectionsConsecutive5xx.inc();
    }
    m.resetConsecutive(type);
  }

  /**
   * Called after an active health check of {@code host}: a passing check of an ejected host that
   * is not failing active health checks un-ejects it ({@code
   * successful_active_health_check_uneject_host}).
   */
  public void onHealthCheckResult(Host host, boolean passed) {
    if (!config.successfulActiveHealthCheckUnejectHost() || !passed || stopped) {
      return;
    }
    int flags = host.healthFlags();
    if ((flags & Host.FAILED_ACTIVE_HC) == 0 && (flags & Host.FAILED_OUTLIER_CHECK) != 0) {
      HostMonitor m = monitors.get(host);
      if (m != null) {
        unejectHost(host, m);
        cluster.notifyHealthChanged();
      }
    }
  }

  private boolean ejectHost(Host host, HostMonitor m, EjectionType type) {
    int maxPercent = Math.min(100, config.maxEjectionPercent());
    double ejectedPercent = 100.0 * (ejectionsActive + 1) / monitors.size();
    boolean shouldEject = ejectedPercent <= maxPercent;
    if (config.alwaysEjectOneHost()) {
      shouldEject = ejectionsActive == 0 || shouldEject;
    }
    if (!shouldEject) {
      stats.ejectionsOverflow.inc();
      return false;
    }
    if (type == EjectionType.CONSECUTIVE_5XX || type == EjectionType.SUCCESS_RATE) {
      stats.ejectionsTotal.inc();
    }
    if (!enforced(type)) {
      return false;
    }
    ejectionsActive++;
    stats.ejectionsActive.inc();
    updateEnforcedStats(type);
    host.setHealthFlag(Host.FAILED_OUTLIER_CHECK);
    m.numEjections++;
    m.lastEjectionNanos = nanoClock.getAsLong();
    m.jitterMs = config.maxEjectionTimeJitterMs() == 0
        ? 0
        : ThreadLocalRandom.current().nextLong(config.maxEjectionTimeJitterMs() + 1);
    if ((long) m.ejectTimeBackoff * config.baseEjectionTimeMs()
        < config.maxEjectionTimeMs() + config.baseEjectionTimeMs()) {
      m.ejectTimeBackoff++;
    }
    return true;
  }

  private boolean enforced(EjectionType type) {
    int percent = switch (type) {
      case CONSECUTIVE_5XX -> config.enforcingConsecutive5xx();
      case CONSECUTIVE_GATEWAY_FAILURE -> config.enforcingConsecutiveGatewayFailure();
      case CONSECUTIVE_LOCAL_ORIGIN_FAILURE -> config.enforcingConsecutiveLocalOriginFailure();
      case SUCCESS_RATE -> config.enforcingSuccessRate();
      case SUCCESS_RATE_LOCAL_ORIGIN -> config.enforcingLocalOriginSuccessRate();
      case FAILURE_PERCENTAGE -> config.enforcingFailurePercentage();
      case FAILURE_PERCENTAGE_LOCAL_ORIGIN -> config.enforcingFailurePercentageLocalOrigin();
    };
    return percent >= 100 || (percent > 0 && ThreadLocalRandom.current().nextInt(100) < percent);
  }

  private void unejectHost(Host host, HostMonitor m) {
    ejectionsActive--;
    stats.ejectionsActive.dec();
    host.clearHealthFlag(Host.FAILED_OUTLIER_CHECK);
    m.resetAllConsecutive();
    m.lastUnejectionNanos = nanoClock.getAsLong();
  }

  /** Runs one interval: un-ejections, success-rate and failure-percentage ejections. */
  void onIntervalTimer() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
    if (stopped) {
      return;
    }
    long now = nanoClock.getAsLong();
    boolean changed = false;
    for (Map.Entry<Host, HostMonitor> e : monitors.entrySet()) {
      Host h = e.getKey();
      HostMonitor m = e.getValue();
      if ((h.healthFlags() & Host.FAILED_OUTLIER_CHECK) != 0) {
        long ejectMs = Math.min(config.baseEjectionTimeMs() * m.ejectTimeBackoff, config.maxEjectionTimeMs())
            + m.jitterMs;
        if (ejectMs * 1_000_000L <= now - m.lastEjectionNanos) {
          unejectHost(h, m);
          changed = true;
        }
      }
      m.external.swap();
      m.localOrigin.swap();
      m.external.successRate = -1;
      m.localOrigin.successRate = -1;
    }
    changed |= processSuccessRate(false);
    changed |= processSuccessRate(true);
    for (Map.Entry<Host, HostMonitor> e : monitors.entrySet()) {
      HostMonitor m = e.getValue();
      if ((e.getKey().healthFlags() & Host.FAILED_OUTLIER_CHECK) == 0
          && m.lastUnejectionNanos >= 0
          && now - m.lastUnejectionNanos >= config.intervalMs() * 1_000_000L
          && m.ejectTimeBackoff > 0) {
        m.ejectTimeBackoff--;
      }
    }
    if (changed) {
      cluster.notifyHealthChanged();
    }
    armTimer();
  }

  private boolean processSuccessRate(boolean localOrigin) {
    int srMinHosts = config.successRateMinimumHosts();
    int srVolume = config.successRateRequestVolume();
    int fpMinHosts = config.failurePercentageMinimumHosts();
    int fpVolume = config.failurePercentageRequestVolume();
    if (localOrigin) {
      localOriginSuccessRateAverage = -1;
      localOriginSuccessRateEjectionThreshold = -1;
    } else {
      successRateAverage = -1;
      successRateEjectionThreshold = -1;
    }
    if (monitors.size() < srMinHosts && monitors.size() < fpMinHosts) {
      return false;
    }
    List<Host> srHosts = new ArrayList<>();
    List<Double> srRates = new ArrayList<>();
    List<Host> fpHosts = new ArrayList<>();
    List<Double> fpRates = new ArrayList<>();
    double sum = 0;
    for (Map.Entry<Host, HostMonitor> e : monitors.entrySet()) {
      if ((e.getKey().healthFlags() & Host.FAILED_OUTLIER_CHECK) != 0) {
        continue;
      }
      HostMonitor.SuccessRateMonitor sr = localOrigin ? e.getValue().localOrigin : e.getValue().external;
      double[] rv = sr.rateAndVolume();
      if (rv == null) {
        continue;
      }
      if (rv[1] >= Math.min(srVolume, fpVolume)) {
        sr.successRate = rv[0];
      }
      if (rv[1] >= srVolume) {
        srHosts.add(e.getKey());
        srRates.add(rv[0]);
        sum += rv[0];
      }
      if (rv[1] >= fpVolume) {
        fpHosts.add(e.getKey());
        fpRates.add(rv[0]);
      }
    }
    boolean changed = false;
    if (!srHosts.isEmpty() && srHosts.size() >= srMinHosts) {
      double mean = sum / srHosts.size();
      double variance = 0;
      for (double r : srRates) {
        variance += (r - mean) * (r - mean);
      }
      variance /= srHosts.size();
      double threshold = mean - (config.successRateStdevFactor() / 1000.0) * Math.sqrt(variance);
      if (localOrigin) {
        localOriginSuccessRateAverage = mean;
        localOriginSuccessRateEjectionThreshold = threshold;
      } else {
        successRateAverage = mean;
        successRateEjectionThreshold = threshold;
      }
      EjectionType type = localOrigin ? EjectionType.SUCCESS_RATE_LOCAL_ORIGIN : EjectionType.SUCCESS_RATE;
      for (int i = 0; i < srHosts.size(); i++) {
        if (srRates.get(i) < threshold) {
          stats.ejectionsSuccessRate.inc();
          updateDetectedStats(type);
          Host h = srHosts.get(i);
          if ((h.healthFlags() & Host.FAILED_OUTLIER_CHECK) == 0) {
            changed |= ejectHost(h, monitors.get(h), type);
          }
        }
      }
    }
    if (!fpHosts.isEmpty() && fpHosts.size() >= fpMinHosts) {
      EjectionType type =
          localOrigin ? EjectionType.FAILURE_PERCENTAGE_LOCAL_ORIGIN : EjectionType.FAILURE_PERCENTAGE;
      for (int i = 0; i < fpHosts.size(); i++) {
        if (100.0 - fpRates.get(i) >= config.failurePercentageThreshold()) {
          updateDetectedStats(type);
          Host h = fpHosts.get(i);
          if ((h.healthFlags() & Host.FAILED_OUTLIER_CHECK) == 0) {
            changed |= ejectHost(h, monitors.get(h), type);
          }
        }
      }
    }
    return changed;
  }

  private void updateDetectedStats(EjectionType type) {
    switch (type) {
      case CONSECUTIVE_5XX -> stats.ejectionsDetectedConsecutive5xx.inc();
      case CONSECUTIVE_GATEWAY_FAILURE -> stats.ejectionsDetectedConsecutiveGatewayFailure.inc();
      case CONSECUTIVE_LOCAL_ORIGIN_FAILURE -> stats.ejectionsDetectedConsecutiveLocalOriginFailure.inc();
      case SUCCESS_RATE -> stats.ejectionsDetectedSuccessRate.inc();
      case SUCCESS_RATE_LOCAL_ORIGIN -> stats.ejectionsDetectedLocalOriginSuccessRate.inc();
      case FAILURE_PERCENTAGE -> stats.ejectionsDetectedFailurePercentage.inc();
      case FAILURE_PERCENTAGE_LOCAL_ORIGIN -> stats.ejectionsDetectedLocalOriginFailurePercentage.inc();
    }
  }

  private void updateEnforcedStats(EjectionType type) {
    stats.ejectionsEnforcedTotal.inc();
    switch (type) {
      case CONSECUTIVE_5XX -> stats.ejectionsEnforcedConsecutive5xx.inc();
      case CONSECUTIVE_GATEWAY_FAILURE -> stats.ejectionsEnforcedConsecutiveGatewayFailure.inc();
      case CONSECUTIVE_LOCAL_ORIGIN_FAILURE -> stats.ejectionsEnforcedConsecutiveLocalOriginFailure.inc();
      case SUCCESS_RATE -> stats.ejectionsEnforcedSuccessRate.inc();
      case SUCCESS_RATE_LOCAL_ORIGIN -> stats.ejectionsEnforcedLocalOriginSuccessRate.inc();
      case FAILURE_PERCENTAGE -> stats.ejectionsEnforcedFailurePercentage.inc();
      case FAILURE_PERCENTAGE_LOCAL_ORIGIN -> stats.ejectionsEnforcedLocalOriginFailurePercentage.inc();
    }
  }
}
