package io.legate.http.filters.csrf;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.extensions.filters.http.csrf.v3.CsrfPolicy;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;

/**
 * {@code envoy.filters.http.csrf}: refuses state-changing requests (POST, PUT, DELETE, PATCH) whose
 * Origin (else Referer) is not the request's own host, nor one of {@code additional_origins}, with
 * 403 "Invalid origin". The most specific {@code typed_per_filter_config} CsrfPolicy replaces the
 * filter's. Counts {@code csrf.missing_source_origin}, {@code csrf.request_invalid} and {@code
 * csrf.request_valid} in the connection manager's scope.
 */
public final class CsrfFilterFactory extends HttpFilterConfigFactory<CsrfPolicy> {
  public CsrfFilterFactory() {
    super("envoy.filters.http.csrf", CsrfPolicy.class, CsrfPolicy.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(CsrfPolicy config, FactoryContext context, String path) {
    CsrfPolicyConfig policy = CsrfPolicyConfig.build(config, path + ".typed_config");
    CsrfFilter.Stats stats = new CsrfFilter.Stats(
        context.scope().counter("csrf.missing_source_origin"),
        context.scope().counter("csrf.request_invalid"),
        context.scope().counter("csrf.request_valid"));
    String name = context.filterConfigName();
    return () -> new CsrfFilter(name, policy, stats);
  }

  @Override
  protected Object createRouteSpecificConfig(Message config, FactoryContext context, String path) {
    return CsrfPolicyConfig.build((CsrfPolicy) config, path);
  }
}
