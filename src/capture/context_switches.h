// How many context switches the machine made: the `ctxt` line of /proc/stat, the sum over
// CPUs of the scheduler's switch counters. Capture compares it with the switches its
// sched_switch program saw (bpf/sched.bpf.c numbers each one per CPU) to learn how many the
// kernel made without reporting them to the tracepoint (docs/capture.md, "CPU holders").
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace causeway::capture {

// The `ctxt` value of /proc/stat text; nullopt when the line is absent or not a number.
std::optional<int64_t> parse_context_switches(std::string_view proc_stat);

// The machine's context switches so far, from /proc/stat; nullopt when it cannot be read.
std::optional<int64_t> read_context_switches();

// Switches the machine made that the tracepoint did not report, from the machine's count at
// the start and end of a window and the switches seen in it: a lower bound when the start
// was read after the program was attached and the end before the switches seen were summed
// (switches at the edges are then seen but not in the machine's difference). Never negative;
// nullopt when either machine count is unknown.
std::optional<int64_t> unreported_switches(std::optional<int64_t> machine_start,
                                           std::optional<int64_t> machine_end, int64_t seen);

}  // namespace causeway::capture
