// Admission before overload (admission.hpp).
#include "relay/core/admission.hpp"

#include <cmath>

namespace kaillera::relay {

bool Admission::update_at(const LoadFigures& f, const AdmissionLimits& l, std::chrono::milliseconds now) {
  const bool before = refusing();
  const bool drops_over = l.drop_limit != 0 && f.receive_drops >= l.drop_limit;
  Cause over = Cause::kNone;
  if (l.force_busy) {
    over = Cause::kForced;
  } else if (l.busy_limit > 0 && f.busy >= l.busy_limit) {
    over = Cause::kBusyLoop;
  } else if (drops_over) {
    over = Cause::kReceiveDrops;
  }
  if (over != Cause::kNone) {
    // A forced state gives way to what is measured once the knob is off.
    if (cause_ == Cause::kNone || over == Cause::kForced || cause_ == Cause::kForced) cause_ = over;
    calm_since_ = std::chrono::milliseconds(-1);
    last_ = f;
    return refusing() != before;
  }
  if (cause_ == Cause::kNone) {
    last_ = f;
    return false;
  }
  // Refusing: admit again after `resume_after` below the resume figures (a forced state ends at once).
  const bool calm = cause_ == Cause::kForced || ((l.busy_limit <= 0 || f.busy < l.busy_resume) &&
                                                 !drops_over && (l.drop_limit == 0 || f.receive_drops == 0));
  if (!calm) {
    calm_since_ = std::chrono::milliseconds(-1);
    return false;
  }
  if (calm_since_.count() < 0) calm_since_ = now;
  if (cause_ == Cause::kForced || now - calm_since_ >= l.resume_after) {
    cause_ = Cause::kNone;
    calm_since_ = std::chrono::milliseconds(-1);
    last_ = f;
  }
  return refusing() != before;
}

std::string Admission::reason() const {
  switch (cause_) {
    case Cause::kBusyLoop:
      return "loop " + std::to_string(static_cast<int>(std::lround(last_.busy * 100))) + " % busy";
    case Cause::kReceiveDrops:
      return std::to_string(last_.receive_drops) + " datagrams dropped in 1 s";
    case Cause::kForced:
      return "forced busy";
    case Cause::kNone:
      break;
  }
  return {};
}

const char* Admission::cause_key(Cause c) {
  switch (c) {
    case Cause::kBusyLoop:
      return "busy_loop";
    case Cause::kReceiveDrops:
      return "receive_drops";
    case Cause::kForced:
      return "forced";
    case Cause::kNone:
      break;
  }
  return "";
}

}  // namespace kaillera::relay
