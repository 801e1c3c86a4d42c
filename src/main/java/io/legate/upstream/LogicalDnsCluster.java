package io.legate.upstream;

import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.legate.config.ConfigException;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A LOGICAL_DNS cluster: one endpoint, one host whose address is the first address of the latest
 * successful resolution. The {@link Host} object is kept as long as that address does not change;
 * an empty answer counts as a failure and keeps the previous host.
 */
public final class LogicalDnsCluster extends Cluster {
  private final DnsResolver resolver;
  private final boolean ownsResolver;
  private final Endpoints.Spec spec;
  private final String hostname;
  private final Endpoints.Assignment assignment;
  private final DnsRefresh refresh;
  private Host host;
  private ScheduledFuture<?> timer;

  /**
   * Creates the cluster.
   *
   * @param ownsResolver whether {@link #shutdown()} closes {@code resolver}
   */
  public LogicalDnsCluster(
      ClusterInfo info, EventLoop mainLoop, DnsResolver resolver, boolean ownsResolver) {
    super(info, mainLoop);
    this.resolver = resolver;
    this.ownsResolver = ownsResolver;
    ClusterLoadAssignment cla = info.proto().getLoadAssignment();
    if (cla.getEndpointsCount() != 1 || cla.getEndpoints(0).getLbEndpointsCount() != 1) {
      if (!info.proto().hasLoadAssignment()) {
        throw new ConfigException(info.path(), "LOGICAL_DNS clusters must have a single host");
      }
      throw new ConfigException(
          info.path() + ".load_assignment",
          "LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint");
    }
    this.assignment =
        Endpoints.parse(
            cla,
            info.path() + ".load_assignment",
            "LOGICAL_DNS clusters must NOT have a custom resolver name set");
    Endpoints.Spec s = assignment.endpoints().get(0);
    // Envoy rewrites the priority of the single endpoint to 0.
    this.spec =
        new Endpoints.Spec(
            s.address(), s.port(), s.hostname(), s.weight(), 0, s.zone(), s.healthFlags(), s.path(), s.locality());
    this.hostname = spec.hostname().isEmpty() ? spec.address() : spec.hostname();
    this.refresh =
        new DnsRefresh(info, new SplittableRandom(ThreadLocalRandom.current().nextLong()));
  }

  @Override
  protected void startPreInit() {
    startResolve();
  }

  @Override
  protected void onShutdown() {
    if (timer != null) {
      timer.cancel(false);
    }
    if (ownsResolver) {
      resolver.close();
    }
  }

  private void startResolve() {
    timer = null;
    if (isShutdown()) {
      return;
    }
    info().stats().updateAttempt.inc();
    resolver.resolve(
        spec.address(),
        info().dnsLookupFamily(),
        new DnsResolver.Callback() {
          @Override
          public void onResolved(List<InetAddress> addresses, long ttlSeconds) {
            if (addresses.isEmpty()) {
              onFailure(null);
              return;
            }
            LogicalDnsCluster.this.onResolved(addresses.get(0), ttlSeconds);
          }

          @Override
          public void onFailure(Throwable cause) {
            if (isShutdown()) {
              return;
            }
            info().stats().updateFailure.inc();
            done(refresh.afterFailure());
          }
        });
  }

  private void onResolved(InetAddress address, long ttlSeconds) {
    if (isShutdown()) {
      return;
    }
    ClusterStats stats = info().stats();
    stats.updateSuccess.inc();
    InetSocketAddress next = new InetSocketAddress(address, spec.port());
    if (host != null && host.address().equals(next)) {
      stats.updateNoRebuild.inc();
    } else {
      host = new Host(info().name(), next, hostname, spec.weight(), 0, spec.zone());
      if (spec.healthFlags() != 0) {
        host.setHealthFlag(spec.healthFlags());
      }
      publish(
          Endpoints.prioritySet(
              List.of(host), assignment.overprovisioningFactor(), assignment.weightedPriorityHealth()));
    }
    done(refresh.afterSuccess(ttlSeconds));
  }

  private void done(long nextMs) {
    onPreInitComplete();
    timer = mainLoop.schedule(this::startResolve, nextMs, TimeUnit.MILLISECONDS);
  }
}
