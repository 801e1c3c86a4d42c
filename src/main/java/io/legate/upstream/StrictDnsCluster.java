package io.legate.upstream;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A STRICT_DNS cluster: every endpoint's name is resolved, and every address returned becomes a
 * host, re-resolved every {@code dns_refresh_rate} (or TTL). A host whose address did not change
 * keeps its {@link Host} object; a failed resolution keeps the previous hosts and counts
 * {@code update_failure}. All work happens on the main loop.
 */
public final class StrictDnsCluster extends Cluster {
  private final DnsResolver resolver;
  private final boolean ownsResolver;
  private final List<Target> targets = new ArrayList<>();
  private final int overprovisioningFactor;
  private final boolean weightedPriorityHealth;
  private final SplittableRandom random = new SplittableRandom(ThreadLocalRandom.current().nextLong());
  private int targetsResolved;

  /**
   * Creates the cluster.
   *
   * @param ownsResolver whether {@link #shutdown()} closes {@code resolver}
   */
  public StrictDnsCluster(
      ClusterInfo info, EventLoop mainLoop, DnsResolver resolver, boolean ownsResolver) {
    super(info, mainLoop);
    this.resolver = resolver;
    this.ownsResolver = ownsResolver;
    Endpoints.Assignment a =
        Endpoints.parse(
            info.proto().getLoadAssignment(),
            info.path() + ".load_assignment",
            "STRICT_DNS clusters must NOT have a custom resolver name set");
    for (Endpoints.Spec s : a.endpoints()) {
      targets.add(new Target(s));
    }
    this.overprovisioningFactor = a.overprovisioningFactor();
    this.weightedPriorityHealth = a.weightedPriorityHealth();
  }

  @Override
  protected void startPreInit() {
    if (targets.isEmpty()) {
      publish(Endpoints.prioritySet(List.of(), overprovisioningFactor, weightedPriorityHealth));
      onPreInitComplete();
      return;
    }
    for (Target t : targets) {
      t.startResolve();
    }
  }

  @Override
  protected void onShutdown() {
    for (Target t : targets) {
      if (t.timer != null) {
        t.timer.cancel(false);
      }
    }
    if (ownsResolver) {
      resolver.close();
    }
  }

  private void rebuild() {
    List<Host> all = new ArrayList<>();
    for (Target t : targets) {
      all.addAll(t.hosts.values());
    }
    publish(Endpoints.prioritySet(all, overprovisioningFactor, weightedPriorityHealth));
  }

  private final class Target implements DnsResolver.Callback {
    final Endpoints.Spec spec;
    final String hostname;
    final DnsRefresh refresh;
    Map<String, Host> hosts = new LinkedHashMap<>();
    boolean resolvedOnce;
    ScheduledFuture<?> timer;

    Target(Endpoints.Spec spec) {
      this.spec = spec;
      this.hostname = spec.hostname().isEmpty() ? spec.address() : spec.hostname();
      this.refresh = new DnsRefresh(info(), random);
    }

    void startResolve() {
      timer = null;
      if (isShutdown()) {
        return;
      }
      info().stats().updateAttempt.inc();
      resolver.resolve(spec.address(), info().dnsLookupFamily(), this);
    }

    @Override
    public void onResolved(List<InetAddress> addresses, long ttlSeconds) {
      if (isShutdown()) {
        return;
      }
      ClusterStats stats = info().stats();
      stats.updateSuccess.inc();
      Map<String, Host> next = new LinkedHashMap<>();
      for (InetAddress address : addresses) {
        String key = address.getHostAddress() + ":" + spec.port();
        if (next.containsKey(key)) {
          continue;
        }
        Host h = hosts.get(key);
        if (h == null) {
          h =
              new Host(
                  info().name(),
                  new InetSocketAddress(address, spec.port()),
                  hostname,
                  spec.weight(),
                  spec.priority(),
                  spec.zone(),
                  spec.locality());
          if (spec.healthFlags() != 0) {
            h.setHealthFlag(spec.healthFlags());
          }
        }
        next.put(key, h);
      }
      boolean changed = !next.keySet().equals(hosts.keySet()) || !resolvedOnce;
      hosts = next;
      if (changed) {
        rebuild();
      } else {
        stats.updateNoRebuild.inc();
      }
      done(refresh.afterSuccess(ttlSeconds));
    }

    @Override
    public void onFailure(Throwable cause) {
      if (isShutdown()) {
        return;
      }
      info().stats().updateFailure.inc();
      done(refresh.afterFailure());
    }

    private void done(long nextMs) {
      if (!resolvedOnce) {
        resolvedOnce = true;
        if (++targetsResolved == targets.size()) {
          onPreInitComplete();
        }
      }
      timer = mainLoop.schedule(this::startResolve, nextMs, TimeUnit.MILLISECONDS);
    }
  }
}
