package io.legate.http.filters.fault;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;
import java.util.concurrent.ThreadLocalRandom;

/**
 * {@code envoy.filters.http.fault}: injects delays, aborts and response rate limits (Envoy's
 * HTTPFault). Per-route overrides are HTTPFault configs in {@code typed_per_filter_config}.
 */
public final class FaultFilterFactory extends HttpFilterConfigFactory<HTTPFault> {
  public FaultFilterFactory() {
    super("envoy.filters.http.fault", HTTPFault.class, HTTPFault.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(HTTPFault config, FactoryContext context, String path) {
    FaultSettings settings = FaultSettings.parse(config, path + ".typed_config");
    FaultConfig fc =
        new FaultConfig(settings, context.filterConfigName(), context.scope().scope("fault."),
            () -> ThreadLocalRandom.current().nextLong(), System::nanoTime);
    return () -> new FaultFilter(fc);
  }

  @Override
  protected Object createRouteSpecificConfig(Message config, FactoryContext context, String path) {
    return FaultSettings.parse((HTTPFault) config, path);
  }
}
