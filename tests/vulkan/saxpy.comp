/* saxpy.comp - y = a * x + y: the hand-written global kernel that tests the pipeline-from-SPIR-V, buffer
 * binding and dispatch layer (vk_context.h) the DSL's GLSL emitter will target. */
#version 450
layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) buffer Y { float y[]; };
layout(push_constant) uniform Params { float a; uint n; } p;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i < p.n)
        y[i] = p.a * x[i] + y[i];
}
