package io.legate.admin;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.FieldMask;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.util.FieldMaskUtil;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.admin.v3.ClusterStatus;
import io.envoyproxy.envoy.admin.v3.Clusters;
import io.envoyproxy.envoy.admin.v3.CommandLineOptions;
import io.envoyproxy.envoy.admin.v3.HostHealthStatus;
import io.envoyproxy.envoy.admin.v3.HostStatus;
import io.envoyproxy.envoy.admin.v3.Listeners;
import io.envoyproxy.envoy.admin.v3.Memory;
import io.envoyproxy.envoy.admin.v3.ServerInfo;
import io.envoyproxy.envoy.admin.v3.SimpleMetric;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.Locality;
import io.envoyproxy.envoy.config.core.v3.RoutingPriority;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.legate.admin.AdminServer.Context;
import io.legate.admin.AdminServer.Thresholds;
import io.legate.stats.PrometheusFormatter;
import io.legate.stats.StatsFormatter;
import io.legate.stats.TagExtractor;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.NetUtil;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The admin endpoints and their routing, as Envoy's {@code AdminImpl}: a handler matches when the
 * path before {@code ?} equals its prefix; handlers that change server state require POST.
 */
final class AdminEndpoints {
  /** A query parameter shown by {@code /help}. */
  record Param(String id, String help, List<String> choices) {}

  /** An endpoint. */
  record Handler(
      String prefix,
      String help,
      boolean mutates,
      List<Param> params,
      Function<Request, AdminResponse> fn) {}

  /** A parsed request. */
  record Request(String method, String path, Map<String, List<String>> query) {
    /** Returns the first value of {@code name}, or null when absent. */
    String param(String name) {
      List<String> values = query.get(name);
      return values == null || values.isEmpty() ? null : values.get(0);
    }

    boolean has(String name) {
      return query.containsKey(name);
    }
  }

  static final List<String> LOG_LEVELS =
      List.of("trace", "debug", "info", "warning", "error", "critical", "off");

  private final Context context;
  private final PrometheusFormatter prometheus;
  private final Map<String, Handler> handlers = new LinkedHashMap<>();
  private final String help;

  AdminEndpoints(Context context) {
    this.context = context;
    TagExtractor tags = context.stats() == null ? TagExtractor.defaults() : context.stats().tagExtractor();
    this.prometheus = new PrometheusFormatter(tags);
    add("/", "Admin home page", false, List.of(), this::home);
    add("/clusters", "upstream cluster status", false, List.of(), this::clusters);
    add("/certs", "print certs on machine", false, List.of(), this::certs);
    add("/config_dump", "dump current Envoy configs (experimental)", false,
        List.of(
            new Param("resource", "The resource to dump", List.of()),
            new Param("mask", "The mask to apply. When both resource and mask are specified, the "
                + "mask is applied to every element in the desired repeated field so that only a "
                + "subset of fields are returned. The mask is parsed as a ProtobufWkt::FieldMask",
                List.of()),
            new Param("name_regex", "Dump only the currently loaded configurations whose names match "
                + "the specified regex. Can be used with both resource and mask query parameters.",
                List.of()),
            new Param("include_eds", "Dump currently loaded configuration including EDS. See the "
                + "response definition for more information", List.of())),
        this::configDump);
    add("/drain_listeners", "drain listeners", true,
        List.of(new Param("graceful", "When draining listeners, enter a graceful drain period prior "
                + "to closing listeners. This behaviour and duration is configurable via server "
                + "options or CLI", List.of()),
            new Param("skip_exit", "When draining listeners, do not exit after the drain period. "
                + "This must be used with graceful", List.of()),
            new Param("inboundonly", "Drains all inbound listeners. traffic_direction field in "
                + "envoy_v3_api_msg_config.listener.v3.Listener is used to determine whether a "
                + "listener is inbound or outbound.", List.of())),
        r -> {
          context.drainListeners(r.has("inboundonly"), r.has("graceful"));
          return AdminResponse.ok("OK\n");
        });
    add("/reopen_logs", "reopen access logs", true, List.of(),
        r -> {
          context.reopenLogs();
          return AdminResponse.ok("OK\n");
        });
    add("/reset_counters", "reset all counters to zero", true, List.of(),
        r -> {
          context.stats().resetCounters();
          return AdminResponse.ok("OK\n");
        });
    add("/healthcheck/fail", "cause the server to fail health checks", true, List.of(),
        r -> {
          context.setHealthCheckFailed(true);
          return AdminResponse.ok("OK\n");
        });
    add("/healthcheck/ok", "cause the server to pass health checks", true, List.of(),
        r -> {
          context.setHealthCheckFailed(false);
          return AdminResponse.ok("OK\n");
        });
    add("/help", "print out list of admin commands", false, List.of(),
        r -> AdminResponse.ok(help()));
    add("/hot_restart_version", "print the hot restart compatibility version", false, List.of(),
        r -> AdminResponse.ok("disabled"));
    add("/listeners", "print listener info", false,
        List.of(new Param("format", "File format to use", List.of("text", "json"))),
        this::listeners);
    List<String> levelChoices = new ArrayList<>();
    levelChoices.add("");
    levelChoices.addAll(LOG_LEVELS);
    add("/logging", "query/change logging levels", true,
        List.of(new Param("level", "desired logging level", levelChoices)), this::logging);
    add("/memory", "print current allocation/heap usage", false, List.of(), this::memory);
    add("/quitquitquit", "exit the server", true, List.of(),
        r -> new AdminResponse(HttpResponseStatus.OK, AdminResponse.TEXT, "OK\n", context::quit));
    add("/ready", "print server state, return 200 if LIVE, otherwise return 503", false, List.of(),
        this::ready);
    add("/runtime", "print runtime values", false, List.of(), this::runtime);
    add("/server_info", "print server version/status information", false, List.of(),
        this::serverInfo);
    Param usedOnly = new Param("usedonly",
        "Only include stats that have been written by system since restart", List.of());
    Param filter = new Param("filter", "Regular expression (Google re2) for filtering stats",
        List.of());
    add("/stats", "print server stats", false,
        List.of(usedOnly, filter,
            new Param("format", "Format to use", List.of("text", "json", "prometheus")),
            new Param("type", "Stat types to include.",
                List.of("All", "Counters", "Histograms", "Gauges")),
            new Param("histogram_buckets", "Histogram bucket display mode",
                List.of("cumulative", "disjoint", "none"))),
        this::stats);
    add("/stats/prometheus", "print server stats in prometheus format", false,
        List.of(usedOnly, filter), this::prometheusStats);
    add("/stats/recentlookups", "Show recent stat-name lookups", false, List.of(),
        r -> AdminResponse.ok(
            "Lookup tracking is not enabled. Use /stats/recentlookups/enable to enable.\n"
                + "\ntotal: 0\n"));
    this.help = buildHelp();
  }

  private void add(String prefix, String help, boolean mutates, List<Param> params,
      Function<Request, AdminResponse> fn) {
    handlers.put(prefix, new Handler(prefix, help, mutates, List.copyOf(params), fn));
  }

  /** Returns the response to {@code method} on {@code uri} (path and query). */
  AdminResponse handle(HttpMethod method, String uri) {
    QueryStringDecoder decoder = new QueryStringDecoder(uri);
    String path = decoder.path();
    Handler handler = handlers.get(path);
    if (handler == null) {
      return AdminResponse.text(HttpResponseStatus.NOT_FOUND, "invalid path. " + help);
    }
    if (handler.mutates() && !HttpMethod.POST.equals(method)) {
      return AdminResponse.text(HttpResponseStatus.METHOD_NOT_ALLOWED,
          "Method " + method.name() + " not allowed, POST required.");
    }
    return handler.fn().apply(new Request(method.name(), path, decoder.parameters()));
  }

  /** Returns the {@code /help} text. */
  String help() {
    return help;
  }

  private String buildHelp() {
    StringBuilder out = new StringBuilder("admin commands are:\n");
    List<Handler> sorted = new ArrayList<>(handlers.values());
    sorted.sort(Comparator.comparing(Handler::prefix));
    for (Handler h : sorted) {
      out.append("  ").append(h.prefix()).append(h.mutates() ? " (POST)" : "").append(": ")
          .append(h.help()).append('\n');
      for (Param p : h.params()) {
        out.append("      ").append(p.id()).append(": ").append(p.help());
        if (!p.choices().isEmpty()) {
          out.append("; One of (").append(String.join(", ", p.choices())).append(')');
        }
        out.append('\n');
      }
    }
    return out.toString();
  }

  private AdminResponse certs(Request r) {
    try {
      return AdminResponse.json(ProtoJson.print(context.certs(), null, true));
    } catch (InvalidProtocolBufferException e) {
      return AdminResponse.text(HttpResponseStatus.INTERNAL_SERVER_ERROR, e.getMessage());
    }
  }

  private AdminResponse home(Request r) {
    StringBuilder out = new StringBuilder();
    out.append("<!DOCTYPE html>\n<html>\n<head>\n  <title>Envoy Admin</title>\n</head>\n<body>\n")
        .append("  <table class='home-table'>\n    <thead>\n")
        .append("      <th class='home-data'>Command</th>\n")
        .append("      <th class='home-data'>Description</th>\n    </thead>\n    <tbody>\n");
    List<Handler> sorted = new ArrayList<>(handlers.values());
    sorted.sort(Comparator.comparing(Handler::prefix));
    for (Handler h : sorted) {
      if (h.prefix().equals("/")) {
        continue;
      }
      out.append("      <tr class='home-row'><td class='home-data'>");
      if (h.mutates()) {
        out.append("<form action='").append(h.prefix())
            .append("' method='post' class='home-form'><button>").append(h.prefix().substring(1))
            .append("</button></form>");
      } else {
        out.append("<a href='").append(h.prefix()).append("'>").append(h.prefix().substring(1))
            .append("</a>");
      }
      out.append("</td><td class='home-data'>").append(escapeHtml(h.help()))
          .append("</td></tr>\n");
    }
    out.append("    </tbody>\n  </table>\n</body>\n</html>\n");
    return new AdminResponse(HttpResponseStatus.OK, AdminResponse.HTML, out.toString(), null);
  }

  private static String escapeHtml(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }

  /** Returns Envoy's server state: LIVE becomes DRAINING while health checks are set to fail. */
  private String effectiveState() {
    String state = context.state();
    if ("LIVE".equals(state) && context.healthCheckFailed()) {
      return "DRAINING";
    }
    return state;
  }

  private AdminResponse ready(Request r) {
    String state = effectiveState();
    return AdminResponse.text(
        "LIVE".equals(state) ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
        state + "\n");
  }

  private AdminResponse serverInfo(Request r) {
    ServerInfo.Builder info = ServerInfo.newBuilder()
        .setVersion(context.version())
        .setState(ServerInfo.State.valueOf(effectiveState()))
        .setHotRestartVersion("disabled")
        .setUptimeCurrentEpoch(com.google.protobuf.Duration.newBuilder()
            .setSeconds(context.uptimeCurrentEpochSeconds()))
        .setUptimeAllEpochs(com.google.protobuf.Duration.newBuilder()
            .setSeconds(context.uptimeAllEpochsSeconds()))
        .setCommandLineOptions(commandLineOptions(context.commandLineOptions()))
        .setNode(context.node());
    return printJson(info.build(), true);
  }

  /** Builds {@code CommandLineOptions} field by field; values that do not fit are skipped. */
  static CommandLineOptions commandLineOptions(Map<String, Object> options) {
    CommandLineOptions.Builder b = CommandLineOptions.newBuilder();
    JsonFormat.Parser parser = JsonFormat.parser().ignoringUnknownFields();
    for (Map.Entry<String, Object> e : options.entrySet()) {
      Object value = e.getValue();
      if (value == null) {
        continue;
      }
      if (value instanceof Duration d) {
        value = d.getSeconds() + "s";
      } else if (value instanceof Enum<?> en) {
        value = en.name();
      }
      StringBuilder one = new StringBuilder("{");
      ProtoJson.appendString(one, e.getKey());
      one.append(':');
      ProtoJson.appendValue(one, value);
      one.append('}');
      CommandLineOptions.Builder attempt = b.clone();
      try {
        parser.merge(one.toString(), attempt);
        b = attempt;
      } catch (InvalidProtocolBufferException ignored) {
        // A value of the wrong shape is left out rather than failing the whole page.
      }
    }
    return b.build();
  }

  private AdminResponse memory(Request r) {
    return AdminResponse.json(memoryJson());
  }

  /**
   * Returns {@code /memory}: Envoy's {@code Memory} fields mapped onto the JVM ({@code allocated}:
   * heap in use; {@code heap_size}: heap committed; {@code pageheap_free}: committed but unused
   * heap; {@code total_physical_bytes}: heap and non-heap committed plus direct buffers), followed by
   * the JVM-only figures (direct buffers, Netty's pooled allocator).
   */
  static String memoryJson() {
    java.lang.management.MemoryMXBean mx = java.lang.management.ManagementFactory.getMemoryMXBean();
    java.lang.management.MemoryUsage heap = mx.getHeapMemoryUsage();
    java.lang.management.MemoryUsage nonHeap = mx.getNonHeapMemoryUsage();
    long direct = 0;
    long directCapacity = 0;
    for (java.lang.management.BufferPoolMXBean pool
        : java.lang.management.ManagementFactory.getPlatformMXBeans(java.lang.management.BufferPoolMXBean.class)) {
      if (pool.getName().equals("direct")) {
        direct = pool.getMemoryUsed();
        directCapacity = pool.getTotalCapacity();
      }
    }
    io.netty.buffer.PooledByteBufAllocatorMetric pooled = io.netty.buffer.PooledByteBufAllocator.DEFAULT.metric();
    long nettyDirect = pooled.usedDirectMemory();
    long nettyHeap = pooled.usedHeapMemory();
    long nettyUnpooledDirect = io.netty.util.internal.PlatformDependent.usedDirectMemory();
    long physical = heap.getCommitted() + nonHeap.getCommitted() + Math.max(direct, 0)
        + (nettyUnpooledDirect > 0 ? nettyUnpooledDirect : 0);
    StringBuilder out = new StringBuilder(512);
    out.append("{\n");
    field(out, "allocated", heap.getUsed(), false);
    field(out, "heap_size", heap.getCommitted(), false);
    field(out, "pageheap_unmapped", 0, false);
    field(out, "pageheap_free", Math.max(0, heap.getCommitted() - heap.getUsed()), false);
    field(out, "total_thread_cache", 0, false);
    field(out, "total_physical_bytes", physical, false);
    field(out, "heap_max", heap.getMax(), false);
    field(out, "non_heap_committed", nonHeap.getCommitted(), false);
    field(out, "direct_memory_used", direct, false);
    field(out, "direct_memory_capacity", directCapacity, false);
    field(out, "netty_direct_memory_used", Math.max(0, nettyUnpooledDirect), false);
    field(out, "netty_pooled_direct_used", nettyDirect, false);
    field(out, "netty_pooled_heap_used", nettyHeap, true);
    return out.append("}\n").toString();
  }

  private static void field(StringBuilder out, String name, long value, boolean last) {
    // uint64 fields are strings in proto3 JSON, as Envoy prints them.
    out.append(" \"").append(name).append("\": \"").append(value).append('"').append(last ? "\n" : ",\n");
  }

  // ---- /runtime ----

  private AdminResponse runtime(Request r) {
    List<AdminServer.RuntimeLayer> layers = context.runtimeLayers();
    java.util.TreeSet<String> keys = new java.util.TreeSet<>();
    for (AdminServer.RuntimeLayer l : layers) {
      keys.addAll(l.values().keySet());
    }
    StringBuilder out = new StringBuilder("{\n \"entries\": {");
    boolean first = true;
    for (String key : keys) {
      out.append(first ? "\n" : ",\n");
      first = false;
      out.append("  ");
      ProtoJson.appendString(out, key);
      out.append(": {\n   \"layer_values\": [");
      String last = "";
      for (int i = 0; i < layers.size(); i++) {
        String v = layers.get(i).values().getOrDefault(key, "");
        if (!v.isEmpty()) {
          last = v;
        }
        out.append(i == 0 ? "\n    " : ",\n    ");
        ProtoJson.appendString(out, v);
      }
      out.append("\n   ],\n   \"final_value\": ");
      ProtoJson.appendString(out, last);
      out.append("\n  }");
    }
    out.append(first ? "},\n" : "\n },\n").append(" \"layers\": [");
    for (int i = 0; i < layers.size(); i++) {
      out.append(i == 0 ? "\n  " : ",\n  ");
      ProtoJson.appendString(out, layers.get(i).name());
    }
    out.append(layers.isEmpty() ? "]\n}" : "\n ]\n}");
    return AdminResponse.json(out.toString());
  }

  private AdminResponse printJson(Message message, boolean alwaysPrint) {
    try {
      return AdminResponse.json(ProtoJson.print(message, context.typeRegistry(), alwaysPrint));
    } catch (InvalidProtocolBufferException e) {
      return AdminResponse.text(HttpResponseStatus.INTERNAL_SERVER_ERROR,
          "failed to print JSON: " + e.getMessage());
    }
  }

  // ---- /stats ----

  private record StatsParams(StatsFormatter.Query query, String format, String buckets) {}

  /** Parses Envoy's stats params; returns a 400 response on error. */
  private Object statsParams(Request r) {
    boolean usedOnly = r.has("usedonly");
    Pattern filter = null;
    String filterValue = r.param("filter");
    if (filterValue != null && !filterValue.isEmpty()) {
      try {
        filter = Pattern.compile(filterValue);
      } catch (PatternSyntaxException e) {
        return AdminResponse.text(HttpResponseStatus.BAD_REQUEST, "Invalid re2 regex");
      }
    }
    StatsFormatter.Type type = StatsFormatter.Type.ALL;
    String typeValue = r.param("type");
    if (typeValue != null && !typeValue.isEmpty()) {
      type = StatsFormatter.Type.fromLabel(typeValue);
      if (type == null) {
        return AdminResponse.text(HttpResponseStatus.BAD_REQUEST, "invalid &type= param");
      }
    }
    String format = r.param("format");
    if (format == null || format.isEmpty()) {
      format = "text";
    }
    switch (format) {
      case "text", "json", "prometheus" -> { }
      case "html" -> {
        return AdminResponse.text(HttpResponseStatus.BAD_REQUEST,
            "HTML output was disabled by building with --define=admin_html=disabled");
      }
      case "active-html" -> {
        return AdminResponse.text(HttpResponseStatus.BAD_REQUEST,
            "Active HTML output was disabled by building with --define=admin_html=disabled");
      }
      default -> {
        return AdminResponse.text(HttpResponseStatus.BAD_REQUEST,
            "usage: /stats?format=(html|active-html|json|prometheus|text)\n\n");
      }
    }
    String buckets = r.param("histogram_buckets");
    if (buckets == null || buckets.isEmpty() || buckets.equals("summary")) {
      buckets = "none";
    }
    switch (buckets) {
      case "none", "cumulative", "disjoint" -> { }
      default -> {
        return AdminResponse.text(HttpResponseStatus.BAD_REQUEST,
            "usage: /stats?histogram_buckets=(cumulative|disjoint|detailed|summary)\n");
      }
    }
    if (buckets.equals("disjoint") && (format.equals("prometheus") || r.path().equals("/stats/prometheus"))) {
      return AdminResponse.text(HttpResponseStatus.BAD_REQUEST, "unsupported prometheus histogram bucket mode");
    }
    return new StatsParams(new StatsFormatter.Query(usedOnly, filter, type), format, buckets);
  }

  private AdminResponse stats(Request r) {
    Object parsed = statsParams(r);
    if (parsed instanceof AdminResponse error) {
      return error;
    }
    StatsParams p = (StatsParams) parsed;
    return switch (p.format()) {
      case "json" -> AdminResponse.json(p.buckets().equals("none")
          ? StatsFormatter.json(context.stats(), p.query())
          : StatsFormatter.jsonWithBuckets(context.stats(), p.query(), p.buckets().equals("cumulative")));
      case "prometheus" -> AdminResponse.ok(
          prometheus.format(context.stats(), p.query().usedOnly(), p.query().filter()));
      default -> AdminResponse.ok(p.buckets().equals("none")
          ? StatsFormatter.text(context.stats(), p.query())
          : StatsFormatter.textWithBuckets(context.stats(), p.query(), p.buckets().equals("cumulative")));
    };
  }

  private AdminResponse prometheusStats(Request r) {
    Object parsed = statsParams(r);
    if (parsed instanceof AdminResponse error) {
      return error;
    }
    StatsParams p = (StatsParams) parsed;
    return AdminResponse.ok(
        prometheus.format(context.stats(), p.query().usedOnly(), p.query().filter()));
  }

  // ---- /clusters ----

  private AdminResponse clusters(Request r) {
    if ("json".equals(r.param("format"))) {
      return printJson(clustersProto(), false);
    }
    StringBuilder out = new StringBuilder(1024);
    for (AdminServer.ClusterStatus c : context.clusters()) {
      String n = c.name();
      out.append(n).append("::observability_name::").append(c.observabilityName()).append('\n');
      thresholdsText(out, n, "default", c.defaultPriority());
      thresholdsText(out, n, "high", c.highPriority());
      if (c.outlier() != null) {
        String o = n + "::outlier::";
        line(out, o, "success_rate_average", rate(c.outlier().successRateAverage()));
        line(out, o, "success_rate_ejection_threshold", rate(c.outlier().successRateEjectionThreshold()));
        line(out, o, "local_origin_success_rate_average", rate(c.outlier().localOriginSuccessRateAverage()));
        line(out, o, "local_origin_success_rate_ejection_threshold", rate(c.outlier().localOriginSuccessRateEjectionThreshold()));
      }
      out.append(n).append("::added_via_api::").append(c.addedViaApi()).append('\n');
      if (!c.edsServiceName().isEmpty()) {
        out.append(n).append("::eds_service_name::").append(c.edsServiceName()).append('\n');
      }
      for (AdminServer.HostStatus h : c.hosts()) {
        String p = n + "::" + h.address() + "::";
        // Envoy prints counters and gauges merged, sorted by name.
        line(out, p, "cx_active", h.cxActive());
        line(out, p, "cx_connect_fail", h.cxConnectFail());
        line(out, p, "cx_total", h.cxTotal());
        line(out, p, "rq_active", h.rqActive());
        line(out, p, "rq_error", h.rqError());
        line(out, p, "rq_success", h.rqSuccess());
        line(out, p, "rq_timeout", h.rqTimeout());
        line(out, p, "rq_total", h.rqTotal());
        line(out, p, "hostname", h.hostname());
        line(out, p, "health_flags", h.healthFlags());
        line(out, p, "weight", h.weight());
        line(out, p, "region", h.region());
        line(out, p, "zone", h.zone());
        line(out, p, "sub_zone", h.subZone());
        line(out, p, "canary", h.canary());
        line(out, p, "priority", h.priority());
        line(out, p, "success_rate", rate(h.successRate()));
        line(out, p, "local_origin_success_rate", rate(h.localOriginSuccessRate()));
      }
    }
    return AdminResponse.ok(out.toString());
  }

  /** Formats a success rate as Envoy prints it: -1 when unknown, else the percentage. */
  private static String rate(double v) {
    if (v < 0) {
      return "-1";
    }
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }

  private static void line(StringBuilder out, String prefix, String key, Object value) {
    out.append(prefix).append(key).append("::").append(value).append('\n');
  }

  private static void thresholdsText(StringBuilder out, String cluster, String priority,
      Thresholds t) {
    String p = cluster + "::" + priority + "_priority::";
    line(out, p, "max_connections", t.maxConnections());
    line(out, p, "max_pending_requests", t.maxPendingRequests());
    line(out, p, "max_requests", t.maxRequests());
    line(out, p, "max_retries", t.maxRetries());
  }

  private Clusters clustersProto() {
    Clusters.Builder clusters = Clusters.newBuilder();
    for (AdminServer.ClusterStatus c : context.clusters()) {
      ClusterStatus.Builder status = clusters.addClusterStatusesBuilder()
          .setName(c.name())
          .setObservabilityName(c.observabilityName())
          .setAddedViaApi(c.addedViaApi())
          .setCircuitBreakers(CircuitBreakers.newBuilder()
              .addThresholds(thresholds(RoutingPriority.DEFAULT, c.defaultPriority()))
              .addThresholds(thresholds(RoutingPriority.HIGH, c.highPriority())));
      if (!c.edsServiceName().isEmpty()) {
        status.setEdsServiceName(c.edsServiceName());
      }
      for (AdminServer.HostStatus h : c.hosts()) {
        status.addHostStatusesBuilder()
            .setAddress(io.legate.network.ProtoAddresses.fromHostPort(h.address()))
            .setHostname(h.hostname())
            .setLocality(Locality.newBuilder().setRegion(h.region()).setZone(h.zone())
                .setSubZone(h.subZone()))
            .addStats(counter("cx_connect_fail", h.cxConnectFail()))
            .addStats(counter("cx_total", h.cxTotal()))
            .addStats(counter("rq_error", h.rqError()))
            .addStats(counter("rq_success", h.rqSuccess()))
            .addStats(counter("rq_timeout", h.rqTimeout()))
            .addStats(counter("rq_total", h.rqTotal()))
            .addStats(gauge("cx_active", h.cxActive()))
            .addStats(gauge("rq_active", h.rqActive()))
            .setHealthStatus(healthStatus(h.healthFlags()))
            .setWeight(h.weight())
            .setPriority(h.priority());
      }
    }
    return clusters.build();
  }

  private static CircuitBreakers.Thresholds thresholds(RoutingPriority priority, Thresholds t) {
    return CircuitBreakers.Thresholds.newBuilder()
        .setPriority(priority)
        .setMaxConnections(UInt32Value.of((int) t.maxConnections()))
        .setMaxPendingRequests(UInt32Value.of((int) t.maxPendingRequests()))
        .setMaxRequests(UInt32Value.of((int) t.maxRequests()))
        .setMaxRetries(UInt32Value.of((int) t.maxRetries()))
        .build();
  }

  private static SimpleMetric counter(String name, long value) {
    return SimpleMetric.newBuilder().setName(name).setValue(value)
        .setType(SimpleMetric.Type.COUNTER).build();
  }

  private static SimpleMetric gauge(String name, long value) {
    return SimpleMetric.newBuilder().setName(name).setValue(value)
        .setType(SimpleMetric.Type.GAUGE).build();
  }

  /** Maps Envoy's health flag string ({@code /failed_active_hc/...}) to {@code HostHealthStatus}. */
  static HostHealthStatus healthStatus(String flags) {
    HostHealthStatus.Builder b = HostHealthStatus.newBuilder();
    HealthStatus eds = HealthStatus.HEALTHY;
    for (String flag : flags.split("/")) {
      switch (flag) {
        case "failed_active_hc" -> b.setFailedActiveHealthCheck(true);
        case "failed_outlier_check" -> b.setFailedOutlierCheck(true);
        case "failed_eds_health" -> eds = HealthStatus.UNHEALTHY;
        case "degraded_eds_health" -> {
          if (eds != HealthStatus.UNHEALTHY) {
            eds = HealthStatus.DEGRADED;
          }
        }
        case "degraded_active_hc" -> b.setFailedActiveDegradedCheck(true);
        case "pending_dynamic_removal" -> b.setPendingDynamicRemoval(true);
        case "pending_active_hc" -> b.setPendingActiveHc(true);
        case "excluded_via_immediate_hc_fail" -> b.setExcludedViaImmediateHcFail(true);
        case "active_hc_timeout" -> b.setActiveHcTimeout(true);
        default -> { }
      }
    }
    if (flags.contains("/eds_status_draining")) {
      eds = HealthStatus.DRAINING;
    }
    return b.setEdsHealthStatus(eds).build();
  }

  private static String ip(InetSocketAddress a) {
    return a.getAddress() == null ? a.getHostString() : NetUtil.toAddressString(a.getAddress());
  }

  // ---- /listeners ----

  private AdminResponse listeners(Request r) {
    if ("json".equals(r.param("format"))) {
      Listeners.Builder b = Listeners.newBuilder();
      for (AdminServer.ListenerStatus l : context.listeners()) {
        b.addListenerStatusesBuilder().setName(l.name()).setLocalAddress(io.legate.network.ProtoAddresses.of(l.localAddress()));
      }
      return printJson(b.build(), false);
    }
    StringBuilder out = new StringBuilder();
    for (AdminServer.ListenerStatus l : context.listeners()) {
      String ip = ip(l.localAddress());
      if (ip.indexOf(':') >= 0) {
        ip = "[" + ip + "]";
      }
      out.append(l.name()).append("::").append(ip).append(':').append(l.localAddress().getPort())
          .append('\n');
    }
    return AdminResponse.ok(out.toString());
  }

  // ---- /logging ----

  private AdminResponse logging(Request r) {
    Map<String, List<String>> params = new LinkedHashMap<>(r.query());
    params.entrySet().removeIf(e ->
        (e.getKey().equals("level") || e.getKey().equals("paths"))
            && (e.getValue().isEmpty() || e.getValue().get(0).isEmpty()));
    String error = null;
    if (params.size() > 1) {
      error = "invalid number of parameters";
    } else if (params.size() == 1) {
      Map.Entry<String, List<String>> e = params.entrySet().iterator().next();
      String value = e.getValue().isEmpty() ? "" : e.getValue().get(0);
      if (e.getKey().equals("level")) {
        if (LOG_LEVELS.contains(value)) {
          context.setLogLevel(value);
        } else {
          error = "unknown logger level";
        }
      } else if (e.getKey().equals("paths")) {
        error = "unknown logger name";
      } else if (!LOG_LEVELS.contains(value)) {
        error = "unknown logger level";
      } else {
        error = "unknown logger name";
      }
    }
    StringBuilder out = new StringBuilder();
    if (error != null) {
      out.append("error: ").append(error).append("\n\n")
          .append("usage: /logging?<name>=<level> (change single level)\n")
          .append("usage: /logging?paths=name1:level1,name2:level2,... (change multiple levels)\n")
          .append("usage: /logging?level=<level> (change all levels)\n")
          .append("levels: ");
      for (String level : LOG_LEVELS) {
        out.append(level).append(' ');
      }
      out.append('\n');
    }
    out.append("active loggers:\n");
    context.loggerLevels().forEach((name, level) ->
        out.append("  ").append(name).append(": ").append(level).append('\n'));
    out.append('\n');
    return AdminResponse.text(
        error == null ? HttpResponseStatus.OK : HttpResponseStatus.BAD_REQUEST, out.toString());
  }

  // ---- /config_dump ----

  private AdminResponse configDump(Request r) {
    String resource = r.param("resource");
    String maskValue = r.param("mask");
    FieldMask mask = maskValue == null ? null : FieldMaskUtil.fromString(maskValue);
    JsonFormat.TypeRegistry registry = context.typeRegistry();
    List<Message> entries = new ArrayList<>(context.configDump());
    if (r.has("include_eds")) {
      Message eds = context.endpointsConfigDump();
      if (eds != null) {
        entries.add(eds);
      }
    }
    String nameRegex = r.param("name_regex");
    if (nameRegex != null && !nameRegex.isEmpty()) {
      Pattern names;
      try {
        names = Pattern.compile(nameRegex);
      } catch (PatternSyntaxException e) {
        return AdminResponse.text(HttpResponseStatus.BAD_REQUEST,
            "Error while parsing name_regex from " + nameRegex + ": " + e.getDescription());
      }
      List<Message> filtered = new ArrayList<>();
      for (Message entry : entries) {
        filtered.add(filterByName(entry, names, registry));
      }
      entries = filtered;
    }
    List<String> configs = new ArrayList<>();
    try {
      if (resource != null) {
        boolean found = false;
        for (Message entry : entries) {
          Descriptors.FieldDescriptor field =
              entry.getDescriptorForType().findFieldByName(resource);
          if (field == null) {
            continue;
          }
          if (!field.isRepeated()) {
            return AdminResponse.text(HttpResponseStatus.BAD_REQUEST,
                field.getName() + " is not a repeated field. Use ?mask=" + field.getName()
                    + " to get only this field");
          }
          for (Object element : (List<?>) entry.getField(field)) {
            Message m = (Message) element;
            if (mask != null) {
              m = trimResource(mask, m, registry);
            }
            configs.add(ProtoJson.typed(m, registry));
          }
          found = true;
          break;
        }
        if (!found) {
          return AdminResponse.text(HttpResponseStatus.NOT_FOUND,
              resource + " not found in config dump");
        }
      } else {
        for (Message entry : entries) {
          Message m = mask == null ? entry : FieldMaskUtil.trim(mask, entry);
          configs.add(ProtoJson.typed(m, registry));
        }
      }
    } catch (InvalidProtocolBufferException e) {
      return AdminResponse.text(HttpResponseStatus.INTERNAL_SERVER_ERROR,
          "failed to print config dump: " + e.getMessage());
    }
    String dump = configs.isEmpty() ? "{}" : "{\"configs\":[" + String.join(",", configs) + "]}";
    return AdminResponse.json(ProtoJson.pretty(dump));
  }

  /** Removes the elements of every repeated resource field whose name does not fully match. */
  private static Message filterByName(Message entry, Pattern names, JsonFormat.TypeRegistry registry) {
    Message.Builder b = entry.toBuilder();
    for (Descriptors.FieldDescriptor f : entry.getDescriptorForType().getFields()) {
      if (!f.isRepeated() || f.getJavaType() != Descriptors.FieldDescriptor.JavaType.MESSAGE) {
        continue;
      }
      b.clearField(f);
      for (Object element : (List<?>) entry.getField(f)) {
        String name = resourceName((Message) element, registry, 0);
        if (name != null && names.matcher(name).matches()) {
          b.addRepeatedField(f, element);
        }
      }
    }
    return b.build();
  }

  /**
   * Returns the name of a config dump element: its {@code name} or {@code cluster_name} field, or
   * that of the message packed in (or nested in) it.
   */
  static String resourceName(Message m, JsonFormat.TypeRegistry registry, int depth) {
    if (depth > 3) {
      return null;
    }
    Descriptors.Descriptor d = m.getDescriptorForType();
    if (d.getFullName().equals("google.protobuf.Any")) {
      Any any = (Any) m;
      String typeName = any.getTypeUrl().substring(any.getTypeUrl().lastIndexOf('/') + 1);
      Descriptors.Descriptor inner = registry.find(typeName);
      if (inner == null) {
        return null;
      }
      try {
        return resourceName(DynamicMessage.parseFrom(inner, any.getValue()), registry, depth + 1);
      } catch (InvalidProtocolBufferException e) {
        return null;
      }
    }
    for (String n : List.of("name", "cluster_name")) {
      Descriptors.FieldDescriptor f = d.findFieldByName(n);
      if (f != null && f.getJavaType() == Descriptors.FieldDescriptor.JavaType.STRING && m.hasField(f)) {
        return (String) m.getField(f);
      }
    }
    for (Descriptors.FieldDescriptor f : d.getFields()) {
      if (!f.isRepeated() && f.getJavaType() == Descriptors.FieldDescriptor.JavaType.MESSAGE && m.hasField(f)) {
        String inner = resourceName((Message) m.getField(f), registry, depth + 1);
        if (inner != null) {
          return inner;
        }
      }
    }
    return null;
  }

  /**
   * Envoy's {@code trimResourceMessage}: paths into the resource's single {@code Any} field are
   * applied to the unpacked message, the others to the resource itself.
   */
  private static Message trimResource(FieldMask mask, Message message,
      JsonFormat.TypeRegistry registry) throws InvalidProtocolBufferException {
    Descriptors.Descriptor descriptor = message.getDescriptorForType();
    FieldMask.Builder outer = FieldMask.newBuilder();
    FieldMask.Builder inner = FieldMask.newBuilder();
    Descriptors.FieldDescriptor anyField = null;
    for (String path : mask.getPathsList()) {
      String[] frags = path.split("\\.", 2);
      Descriptors.FieldDescriptor field = descriptor.findFieldByName(frags[0]);
      if (field != null && !field.isRepeated()
          && field.getJavaType() == Descriptors.FieldDescriptor.JavaType.MESSAGE
          && field.getMessageType().getFullName().equals("google.protobuf.Any")) {
        anyField = field;
        outer.addPaths(frags[0]);
        if (frags.length > 1) {
          inner.addPaths(frags[1]);
        }
      } else {
        outer.addPaths(path);
      }
    }
    Message result = message;
    if (anyField != null && message.hasField(anyField) && inner.getPathsCount() > 0) {
      Any any = (Any) message.getField(anyField);
      String typeName = any.getTypeUrl().substring(any.getTypeUrl().lastIndexOf('/') + 1);
      Descriptors.Descriptor innerType = registry.find(typeName);
      if (innerType != null) {
        DynamicMessage unpacked = DynamicMessage.parseFrom(innerType, any.getValue());
        Message trimmed = FieldMaskUtil.trim(inner.build(), unpacked);
        Any repacked = Any.newBuilder().setTypeUrl(any.getTypeUrl())
            .setValue(trimmed.toByteString()).build();
        result = message.toBuilder().setField(anyField, repacked).build();
      }
    }
    return FieldMaskUtil.trim(outer.build(), result);
  }
}
