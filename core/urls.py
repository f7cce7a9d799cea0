from django.urls import path

from core import views

urlpatterns = [
    path("demo/", views.demo_storefront, name="demo"),
    path("demo/car.svg", views.demo_car_image, name="demo-car-image"),
]
