package io.legate.http.filters.grpcstats;

import io.envoyproxy.envoy.config.core.v3.GrpcMethodList;
import io.envoyproxy.envoy.extensions.filters.http.grpc_stats.v3.FilterConfig;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.grpc.GrpcCallStats;
import io.legate.http.filter.HttpFilter;
import java.util.HashSet;
import java.util.Set;

/**
 * {@code envoy.filters.http.grpc_stats}: counts gRPC calls and messages in the routed cluster's
 * scope: {@code cluster.<name>.grpc.<service>.<method>.{success,failure,total,<status>,
 * request_message_count,response_message_count}} for every method ({@code stats_for_all_methods})
 * or the listed ones ({@code individual_method_stats_allowlist}), else {@code cluster.<name>.grpc.*};
 * with {@code emit_filter_state}, the message counts as filter state {@code
 * envoy.filters.http.grpc_stats} for access logs.
 */
public final class GrpcStatsFilterFactory extends HttpFilterConfigFactory<FilterConfig> {
  static final String NAME = "envoy.filters.http.grpc_stats";

  public GrpcStatsFilterFactory() {
    super(NAME, FilterConfig.class, FilterConfig.getDefaultInstance());
  }

  /** The filter's immutable config. {@code allowlist} holds "service/method"; null when not set. */
  record Config(
      GrpcCallStats stats, boolean statsForAllMethods, Set<String> allowlist, boolean replaceDots, boolean emitFilterState) {}

  @Override
  protected HttpFilter.Factory createFilterFactory(FilterConfig config, FactoryContext context, String path) {
    String p = path + ".typed_config";
    if (config.getEnableUpstreamStats()) {
      throw new ConfigException(p + ".enable_upstream_stats", "upstream request time histograms are not supported");
    }
    Set<String> allowlist = null;
    if (config.hasIndividualMethodStatsAllowlist()) {
      allowlist = new HashSet<>();
      GrpcMethodList list = config.getIndividualMethodStatsAllowlist();
      for (int i = 0; i < list.getServicesCount(); i++) {
        GrpcMethodList.Service s = list.getServices(i);
        if (s.getName().isEmpty()) {
          throw new ConfigException(p + ".individual_method_stats_allowlist.services[" + i + "].name", "must not be empty");
        }
        if (s.getMethodNamesCount() == 0) {
          throw new ConfigException(
              p + ".individual_method_stats_allowlist.services[" + i + "].method_names", "must not be empty");
        }
        for (String m : s.getMethodNamesList()) {
          allowlist.add(s.getName() + "/" + m);
        }
      }
      allowlist = Set.copyOf(allowlist);
    }
    boolean all = config.hasStatsForAllMethods() && config.getStatsForAllMethods().getValue();
    Config c = new Config(new GrpcCallStats(context.stats(), "grpc"), all, allowlist,
        config.getReplaceDotsInGrpcServiceName(), config.getEmitFilterState());
    return () -> new GrpcStatsFilter(c);
  }
}
