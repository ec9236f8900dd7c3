/**
 * Shared types with units, domain errors, Clock, seeded Rng and logger.
 * Imports nothing outside this folder; every other folder may import it.
 */
export * from "./errors.ts";
export * from "./reading.ts";
export * from "./clock.ts";
export * from "./rng.ts";
export * from "./logger.ts";
export * from "./board.ts";
export * from "./decoder_shape.ts";
