/**
 * The appliance service; touches the outside world (MQTT, HTTP, files, systemd) and may import every other folder.
 *
 * This folder holds the infrastructure the orchestrator is built on: typed
 * config, the request/result wire contract, the job journal, the bounded job
 * queue and the intake that joins them, the MQTT bridge and embedded broker,
 * the HTTP app and its live dashboard, metrics, sd_notify, the watchdog checks
 * and the fleet-update wiring.
 */
export * from "./config.ts";
export * from "./schema.ts";
export * from "./boot.ts";
export * from "./journal.ts";
export * from "./queue.ts";
export * from "./intake.ts";
export * from "./broker.ts";
export * from "./mqtt_bridge.ts";
export * from "./metrics.ts";
export * from "./http.ts";
export * from "./dashboard.ts";
export * from "./sd_notify.ts";
export * from "./watchdog.ts";
export * from "./fault_manager.ts";
export * from "./board_runtime.ts";
export * from "./charger.ts";
export * from "./calibrator.ts";
export * from "./dvfs.ts";
export * from "./planner.ts";
export * from "./orchestrator.ts";
export * from "./update_wiring.ts";
export * from "./service.ts";
