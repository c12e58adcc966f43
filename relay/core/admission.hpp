// Admission before overload (issue 14, docs/OPERATING.md "Admission"): from the load the shell measures each
// second, whether the relay takes new load - new connections, logins and game starts - while the games
// already playing go on. Pure: figures and time are arguments.
//
// The relay refuses once its loop is busy `busy_limit` of the time or the kernel dropped received datagrams
// (`drop_limit` a second: inputs of running games are among them), and admits again only after its figures
// stayed below `busy_resume` and the drop limit for `resume_after`, so it does not flap around the limit.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace kaillera::relay {

// What the shell measured over its last measuring second.
struct LoadFigures {
  double busy = 0;                         // time in handlers over wall time, 0..1
  std::uint64_t receive_drops = 0;         // datagrams the kernel dropped for full receive buffers
  std::uint64_t send_failures = 0;         // datagrams the kernel did not take
  std::chrono::milliseconds tick_late{0};  // how late the 10 ms tick ran, at worst
};

struct AdmissionLimits {
  double busy_limit = 0.75;       // refuse new load at or above this share of the time busy; 0 = never
  double busy_resume = 0.55;      // admit again below this ...
  std::uint64_t drop_limit = 50;  // ... and below this many kernel receive drops a second; 0 = ignore drops
  std::chrono::seconds resume_after{10};  // ... for this long
  bool force_busy = false;                // tests and drills: refuse as if busy
};

class Admission {
 public:
  enum class Cause : std::uint8_t { kNone, kBusyLoop, kReceiveDrops, kForced };

  // A new second's figures at `now`. True when the relay starts or stops refusing.
  template <typename TimePoint>
  bool update(const LoadFigures& f, const AdmissionLimits& l, TimePoint now) {
    return update_at(f, l, std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()));
  }
  bool refusing() const { return cause_ != Cause::kNone; }
  Cause cause() const { return cause_; }
  const LoadFigures& last() const { return last_; }
  // For people: "loop 91 % busy", "1204 datagrams dropped in 1 s", "forced busy"; "" while admitting.
  std::string reason() const;
  // For programs (reports, metrics): "busy_loop", "receive_drops", "forced"; "" while admitting.
  static const char* cause_key(Cause c);

 private:
  bool update_at(const LoadFigures& f, const AdmissionLimits& l, std::chrono::milliseconds now);
  Cause cause_ = Cause::kNone;
  LoadFigures last_{};                        // the figures that closed admission (then the latest ones)
  std::chrono::milliseconds calm_since_{-1};  // below the resume figures since; -1 = not calm
};

}  // namespace kaillera::relay
