#pragma once
// Terminal progress bar and Ctrl-C handling for long commands.
#include <atomic>
#include <cstdint>
#include <string>

#include "skvq/common.h"

namespace skvq::cli {

/// Installs a SIGINT handler that raises the returned flag (the engine then throws Cancelled
/// at its next check, keeping what was already stored). A second Ctrl-C exits at once.
CancelFlag install_cancel_handler();

/// Draws "label [=====>    ] done/total unit" on stderr (only when stderr is a terminal, else
/// a line every 10%).
void draw_progress(const std::string& label, int64_t done, int64_t total, const std::string& unit);

/// Ends the current progress line.
void end_progress();

/// Erases an open progress line on a terminal (before printing a result line to stdout; the
/// next draw_progress redraws it).
void clear_progress();

}  // namespace skvq::cli
