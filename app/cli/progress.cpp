// Terminal progress bar and Ctrl-C handling.
#include "progress.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>

namespace skvq::cli {

namespace {
std::atomic<bool> g_cancel{false};
bool g_line_open = false;
int64_t g_last_decile = -1;

void on_sigint(int) {
  if (g_cancel.load()) _exit(130);
  g_cancel.store(true);
  const char msg[] = "\nskvq: cancelling after the current step (Ctrl-C again to quit now)\n";
  (void)!write(2, msg, sizeof msg - 1);
}
}  // namespace

CancelFlag install_cancel_handler() {
  std::signal(SIGINT, on_sigint);
  return &g_cancel;
}

void draw_progress(const std::string& label, int64_t done, int64_t total, const std::string& unit) {
  if (total <= 0) return;
  if (!isatty(2)) {
    const int64_t decile = done * 10 / total;
    if (decile != g_last_decile) {
      g_last_decile = decile;
      std::fprintf(stderr, "%s: %lld/%lld %s\n", label.c_str(), static_cast<long long>(done),
                   static_cast<long long>(total), unit.c_str());
    }
    if (done >= total) g_last_decile = -1;
    return;
  }
  const int width = 30;
  const int filled = static_cast<int>(width * done / total);
  std::string bar(filled, '=');
  if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
  std::fprintf(stderr, "\r%-40.40s [%s] %lld/%lld %s", label.c_str(), bar.c_str(), static_cast<long long>(done),
               static_cast<long long>(total), unit.c_str());
  g_line_open = true;
  if (done >= total) end_progress();
}

void clear_progress() {
  if (g_line_open) std::fprintf(stderr, "\r%*s\r", 100, "");
  g_line_open = false;
}

void end_progress() {
  if (g_line_open) std::fputc('\n', stderr);
  g_line_open = false;
}

}  // namespace skvq::cli
