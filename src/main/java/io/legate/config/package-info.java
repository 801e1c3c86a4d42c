/**
 * Configuration loading as Envoy does it: a bootstrap file in YAML or JSON (or binary/text proto), with
 * an optional {@code --config-yaml} overlay merged over it, read into Envoy's generated v3 protos.
 *
 * <ul>
 *   <li>{@link io.legate.config.ConfigLoader} reads files and text, resolves {@code @type} URLs on demand
 *       (no class-path scan) and keeps the process-wide type registry used to print config dumps.
 *   <li>Before {@code JsonFormat} sees a document, it is walked alongside the message descriptors so
 *       that every error carries its field path
 *       ({@code envoy.yaml: static_resources.clusters[0].connect_timeout: invalid duration '5' ...}),
 *       including the YAML 1.1 surprises ({@code on} read as a boolean, {@code 0755} as octal).
 *   <li>{@link io.legate.config.ProtoValidator} enforces the protoc-gen-validate rules carried by the
 *       API's descriptors; {@link io.legate.config.BootstrapValidator} the structural checks Envoy makes
 *       at load time (unique names, endpoints where a cluster type needs them).
 * </ul>
 *
 * <p>Every error is a {@link io.legate.config.ConfigException} whose message is
 * {@code <source>: <field path>: <reason>}.
 */
package io.legate.config;
