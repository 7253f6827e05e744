"""The camera agent: segments a video source, detects, encrypts, signs and uploads
(docs/CAMERA.md)."""
