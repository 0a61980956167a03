// Package builder turns a Dockerfile and a build context into an image. It
// parses with BuildKit's Dockerfile parser, plans the stage graph, resolves
// base images, and runs one dispatch function per instruction over a stage
// state made of the image config and its layers.
package builder
