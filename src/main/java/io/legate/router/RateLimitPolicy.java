package io.legate.router;

import io.envoyproxy.envoy.config.route.v3.RateLimit;
import io.legate.config.ConfigException;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A route's or virtual host's {@code rate_limits}: entries of actions that each produce one rate
 * limit descriptor for the global rate limit filter, with Envoy's semantics (an action that cannot
 * produce its entry drops the whole descriptor, except {@code skip_if_absent} request headers).
 * Immutable; built once from the protos.
 */
public final class RateLimitPolicy {
  /** The policy with no entries. */
  public static final RateLimitPolicy EMPTY = new RateLimitPolicy(List.of());

  /** One descriptor entry: a key and its value, as sent to the rate limit service. */
  public record DescriptorEntry(String key, String value) {}

  /**
   * What the actions may read about a request.
   *
   * @param remoteAddress the downstream client address (may be null)
   * @param localCluster the local service cluster ({@code source_cluster})
   * @param targetCluster the route's upstream cluster ({@code destination_cluster})
   */
  public record RequestContext(
      Http2Headers headers, InetSocketAddress remoteAddress, String localCluster, String targetCluster) {}

  private interface Action {
    /** Appends this action's entry; returns false when the descriptor must be dropped. */
    boolean append(RequestContext c, List<DescriptorEntry> out);
  }

  private record Entry(int stage, List<Action> actions) {}

  private final List<Entry> entries;

  private RateLimitPolicy(List<Entry> entries) {
    this.entries = List.copyOf(entries);
  }

  /** Returns true when there are no {@code rate_limits} entries. */
  public boolean isEmpty() {
    return entries.isEmpty();
  }

  /**
   * Appends to {@code out} one descriptor per entry of this {@code stage} whose actions all
   * produced their entries (a descriptor with no entries is not added).
   */
  public void populateDescriptors(int stage, RequestContext c, List<List<DescriptorEntry>> out) {
    for (Entry e : entries) {
      if (e.stage != stage) {
        continue;
      }
      List<DescriptorEntry> d = new ArrayList<>(e.actions.size());
      boolean ok = true;
      for (Action a : e.actions) {
        if (!a.append(c, d)) {
          ok = false;
          break;
        }
      }
      if (ok && !d.isEmpty()) {
        out.add(List.copyOf(d));
      }
    }
  }

  /**
   * Builds a policy from {@code rate_limits}.
   *
   * @param path the field path of the list, e.g. {@code virtual_hosts[0].rate_limits}
   */
  public static RateLimitPolicy build(List<RateLimit> limits, String path) {
    if (limits.isEmpty()) {
      return EMPTY;
    }
    List<Entry> entries = new ArrayList<>();
    for (int i = 0; i < limits.size(); i++) {
      RateLimit r = limits.get(i);
      String rp = path + "[" + i + "]";
      if (r.getStage().getValue() > 10) {
        throw new ConfigException(rp + ".stage", "must be at most 10, got " + r.getStage().getValue());
      }
      if (r.hasLimit()) {
        throw new ConfigException(rp + ".limit", "not supported");
      }
      if (r.getActionsCount() == 0) {
        throw new ConfigException(rp + ".actions", "must contain at least one action");
      }
      List<Action> actions = new ArrayList<>();
      for (int k = 0; k < r.getActionsCount(); k++) {
        actions.add(action(r.getActions(k), rp + ".actions[" + k + "]"));
      }
      entries.add(new Entry(r.getStage().getValue(), actions));
    }
    return new RateLimitPolicy(entries);
  }

  private static Action action(RateLimit.Action a, String ap) {
    switch (a.getActionSpecifierCase()) {
      case SOURCE_CLUSTER -> {
        return (c, out) -> out.add(new DescriptorEntry("source_cluster", c.localCluster()));
      }
      case DESTINATION_CLUSTER -> {
        return (c, out) -> {
          if (c.targetCluster() == null) {
            return false;
          }
          return out.add(new DescriptorEntry("destination_cluster", c.targetCluster()));
        };
      }
      case REQUEST_HEADERS -> {
        var h = a.getRequestHeaders();
        if (h.getHeaderName().isEmpty()) {
          throw new ConfigException(ap + ".request_headers.header_name", "must not be empty");
        }
        if (h.getDescriptorKey().isEmpty()) {
          throw new ConfigException(ap + ".request_headers.descriptor_key", "must not be empty");
        }
        AsciiString name = AsciiString.of(h.getHeaderName().toLowerCase(Locale.ROOT));
        String key = h.getDescriptorKey();
        boolean skip = h.getSkipIfAbsent();
        return (c, out) -> {
          List<CharSequence> values = c.headers().getAll(name);
          if (values.isEmpty()) {
            return skip;
          }
          String v = values.size() == 1 ? values.get(0).toString() : String.join(",", values);
          return out.add(new DescriptorEntry(key, v));
        };
      }
      case REMOTE_ADDRESS -> {
        return (c, out) -> {
          InetSocketAddress r = c.remoteAddress();
          if (r == null || r.getAddress() == null) {
            return false;
          }
          return out.add(new DescriptorEntry("remote_address", r.getAddress().getHostAddress()));
        };
      }
      case GENERIC_KEY -> {
        var g = a.getGenericKey();
        if (g.getDescriptorValue().isEmpty()) {
          throw new ConfigException(ap + ".generic_key.descriptor_value", "must not be empty");
        }
        DescriptorEntry e = new DescriptorEntry(
            g.getDescriptorKey().isEmpty() ? "generic_key" : g.getDescriptorKey(), g.getDescriptorValue());
        return (c, out) -> out.add(e);
      }
      case HEADER_VALUE_MATCH -> {
        var m = a.getHeaderValueMatch();
        String mp = ap + ".header_value_match";
        if (m.getDescriptorValue().isEmpty()) {
          throw new ConfigException(mp + ".descriptor_value", "must not be empty");
        }
        if (m.getHeadersCount() == 0) {
          throw new ConfigException(mp + ".headers", "must contain at least one header matcher");
        }
        List<HeaderMatch> matchers = new ArrayList<>();
        for (int i = 0; i < m.getHeadersCount(); i++) {
          matchers.add(HeaderMatch.build(m.getHeaders(i), mp + ".headers[" + i + "]"));
        }
        boolean expect = !m.hasExpectMatch() || m.getExpectMatch().getValue();
        DescriptorEntry e = new DescriptorEntry(
            m.getDescriptorKey().isEmpty() ? "header_match" : m.getDescriptorKey(), m.getDescriptorValue());
        return (c, out) -> {
          boolean all = true;
          for (HeaderMatch h : matchers) {
            if (!h.matches(c.headers())) {
              all = false;
              break;
            }
          }
          return all == expect && out.add(e);
        };
      }
      case ACTIONSPECIFIER_NOT_SET -> throw new ConfigException(ap, "one action must be set");
      default -> throw new ConfigException(ap + "." + actionName(a), "not supported");
    }
  }

  private static String actionName(RateLimit.Action a) {
    return a.getDescriptorForType()
        .findFieldByNumber(a.getActionSpecifierCase().getNumber())
        .getName();
  }
}
