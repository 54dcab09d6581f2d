#include "orient.h"

#include <algorithm>
#include <cstddef>

namespace prtt {

LocalSet::LocalSet(const std::vector<Addr>& local)
    : local_(local.begin(),
             local.begin() + static_cast<std::ptrdiff_t>(std::min(local.size(), kMax))) {
  for (size_t i = 0; i < local_.size(); ++i) {
    if (!local_[i].is_v4()) continue;
    uint32_t v;
    std::memcpy(&v, local_[i].b + 12, 4);
    local4_.push_back(v);
    local4_index_.push_back(static_cast<uint32_t>(i));
  }
  if (!local4_.empty()) local4_first_ = local4_[0];
}

}  // namespace prtt
