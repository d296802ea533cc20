// The CUDA symbols `causeway check` looks for. Temporary home: to be replaced by the capture
// module's probe catalog so that check and trace can never disagree.
#pragma once
#include <string>
#include <vector>

namespace causeway::cli {
const std::vector<std::string>& probed_runtime_symbols();
const std::vector<std::string>& probed_driver_symbols();
}  // namespace causeway::cli
