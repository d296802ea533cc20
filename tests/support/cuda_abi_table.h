// A description of a set of CUDA declarations (sim/cuda_abi/ or NVIDIA's headers) as plain
// strings, so that the two sets can be compared without ever being visible to the same
// translation unit (their identical names would collide). Used by
// tests/unit/sim_cuda_abi_test.cpp; built only where NVIDIA's CUDA toolkit is found.
#pragma once

#include <string>
#include <vector>

namespace causeway::testing::cuda_abi {

struct Entry {
  std::string kind;         // "function", "enumerator", "macro", "type", "struct", "field"
  std::string name;         // API name as written in code ("cuMemAlloc", "CUDA_MEMCPY2D.srcY")
  std::string description;  // what must agree: exported symbol and type, value, layout
};

struct Table {
  std::string headers;  // whose headers the table was built from: "causeway" or "nvidia"
  std::vector<Entry> entries;
};

// support/cuda_abi_table.cpp compiled four times: causeway's or NVIDIA's headers, with or
// without CUDA_API_PER_THREAD_DEFAULT_STREAM (per_thread: only the functions).
Table table_ours_legacy();
Table table_ours_per_thread();
Table table_nvidia_legacy();
Table table_nvidia_per_thread();

}  // namespace causeway::testing::cuda_abi
