// Builds the description of whichever CUDA headers are first on this translation unit's include
// path (tests/CMakeLists.txt compiles it once against sim/cuda_abi/ and once against NVIDIA's
// toolkit, each with and without CUDA_API_PER_THREAD_DEFAULT_STREAM, under the function name
// CAUSEWAY_CUDA_ABI_TABLE). Types are described structurally, so equal strings mean the same
// ABI: fundamental types by their mangled name, enums by tag and underlying type, structs by
// tag (and by size, alignment and trivial copyability when passed by value), pointers and
// functions by what they point to or take.
#include <cuda.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <typeinfo>

#include "support/cuda_abi_table.h"

namespace causeway::testing::cuda_abi {
namespace {

template <class T, class = void>
struct Complete : std::false_type {};
template <class T>
struct Complete<T, std::void_t<decltype(sizeof(T))>> : std::true_type {};

// The mangled name of a class or enum tag ("10CUstream_st"); typeid of a pointer works for
// incomplete types too.
template <class T>
std::string tag() {
  return std::string(typeid(T*).name()).substr(1);
}

template <class T>
std::string describe(bool by_value = true);

template <class F>
struct Function;
template <class R, class... A>
struct Function<R(A...)> {
  static std::string describe_type() {
    std::string params;
    ((params += (params.empty() ? "" : ", ") + describe<A>()), ...);
    return describe<R>() + " (" + params + ")";
  }
};
template <class R, class... A>
struct Function<R(A...) noexcept> {
  static std::string describe_type() { return Function<R(A...)>::describe_type() + " noexcept"; }
};

template <class T>
std::string describe(bool by_value) {
  using U = std::remove_cv_t<T>;
  const std::string cv = std::is_const_v<T> ? "const " : "";
  if constexpr (std::is_pointer_v<U>) {
    // Behind a pointer only the pointee's identity matters, not its layout.
    return cv + describe<std::remove_pointer_t<U>>(false) + "*";
  } else if constexpr (std::is_function_v<U>) {
    return Function<U>::describe_type();
  } else if constexpr (std::is_enum_v<U>) {
    return cv + "enum " + tag<U>() + ":" + describe<std::underlying_type_t<U>>();
  } else if constexpr (std::is_class_v<U>) {
    std::string text = cv + "struct " + tag<U>();
    if constexpr (Complete<U>::value) {
      if (by_value) {
        text += "{size " + std::to_string(sizeof(U)) + ", align " + std::to_string(alignof(U)) +
                (std::is_trivially_copyable_v<U> ? ", trivially copyable}" : "}");
      }
    }
    return text;
  } else {
    return cv + typeid(U).name();
  }
}

// An object-like macro's value: integers and enumerators by value, handles by address.
template <class T>
std::string value_of(T value) {
  if constexpr (std::is_pointer_v<T>) {
    return std::to_string(reinterpret_cast<std::uintptr_t>(value)) + " " + describe<T>();
  } else {
    return std::to_string(static_cast<long long>(value)) + " " + describe<T>();
  }
}

#define CAUSEWAY_ABI_STR(x) #x
#define CAUSEWAY_ABI_EXPANDED(x) CAUSEWAY_ABI_STR(x)

}  // namespace

Table CAUSEWAY_CUDA_ABI_TABLE() {
  Table table;
#if defined(CAUSEWAY_SIM_CUDA_ABI_CUDA_H) && defined(CAUSEWAY_SIM_CUDA_ABI_CUDA_RUNTIME_API_H)
  table.headers = "causeway";
#elif defined(__cuda_cuda_h__) && defined(__CUDA_RUNTIME_API_H__)
  table.headers = "nvidia";
#else
  table.headers = "unknown";
#endif
  auto add = [&](const char* kind, std::string name, std::string description) {
    table.entries.push_back({kind, std::move(name), std::move(description)});
  };
  // The symbol is the macro-expanded API name (cuMemAlloc -> cuMemAlloc_v2, cudaMemcpy ->
  // cudaMemcpy_ptds with the per-thread default stream).
#define CAUSEWAY_ABI_FUNCTION(name) \
  add("function", #name, CAUSEWAY_ABI_EXPANDED(name) " " + describe<decltype(name)>());
#if defined(CUDA_API_PER_THREAD_DEFAULT_STREAM)
#define CAUSEWAY_ABI_ENUMERATOR(name)
#define CAUSEWAY_ABI_MACRO(name)
#define CAUSEWAY_ABI_TYPE(name)
#define CAUSEWAY_ABI_STRUCT(name)
#define CAUSEWAY_ABI_FIELD(type, field)
#else
#define CAUSEWAY_ABI_ENUMERATOR(name) add("enumerator", #name, value_of(name));
#define CAUSEWAY_ABI_MACRO(name) add("macro", #name, value_of(name));
#define CAUSEWAY_ABI_TYPE(name) add("type", #name, describe<name>(false));
#define CAUSEWAY_ABI_STRUCT(name) add("struct", #name, describe<name>());
#define CAUSEWAY_ABI_FIELD(type, field)                         \
  add("field", #type "." #field,                                \
      "offset " + std::to_string(offsetof(type, field)) + " " + \
          describe<decltype(type::field)>());
#endif
#include "support/cuda_abi_list.inc"
  return table;
}

}  // namespace causeway::testing::cuda_abi
